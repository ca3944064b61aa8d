/**
 * npm run load [-- --holders 500 --rate 20 --seconds 12]
 *   Pairs a real agent (sandbox mode, a simulated machine, automatic TLS)
 *   with a test conductor on 127.0.0.1, as the integration tests do, and
 *   runs the load against it. With --url, --token and --ca-file it loads a
 *   running agent instead.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createSimulatedMachine } from '../support/simulated-machine.ts';
import { startTestAgent, startTestConductor, until, type Cleanups } from '../support/paired-agent.ts';
import { formatComparison, runLoadWithBaseline } from './agent-load.ts';

const { values } = parseArgs({ options: {
  holders: { type: 'string', default: '500' }, rate: { type: 'string', default: '20' }, seconds: { type: 'string', default: '12' },
  url: { type: 'string' }, token: { type: 'string' }, 'ca-file': { type: 'string' },
} });
const cleanups: Cleanups = [];
try {
  let target: { url: string; token: string; ca?: string };
  if (values.url) {
    if (!values.token) throw new Error('--url needs --token (and --ca-file for an https agent with its own certificate)');
    target = { url: values.url, token: values.token, ca: values['ca-file'] ? readFileSync(values['ca-file'], 'utf8') : undefined };
  } else {
    const log = pino({ level: process.env.INGOT_TEST_LOG ?? 'silent' });
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const conductor = await startTestConductor(machine, cleanups, log);
    await startTestAgent(machine, conductor.url, cleanups, log);
    const beat = await until('the first heartbeat', () => conductor.heartbeats[0]);
    target = { url: beat.callbackUrl, token: conductor.tokens[0]!, ca: beat.agentVerifyCa };
  }
  const options = { ...target, holders: Number(values.holders), rate: Number(values.rate), durationMs: Number(values.seconds) * 1000 };
  process.stdout.write(`${formatComparison(await runLoadWithBaseline(options), options)}\n`);
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}
