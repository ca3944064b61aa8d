/**
 * An image URL nobody answers is visible in the command's status within
 * seconds (issue 11): while the download retries, `command_progress.message`
 * says which attempt comes next, when, and why the last failed; once the
 * server answers and bytes flow, the message is the rate again.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { AgentClient } from '@ingot/conductor-client';
import type { CommandProgress, NodeInfo } from '@ingot/protocol';
import { createSimulatedMachine } from '../support/simulated-machine.ts';
import { freePort } from '../support/free-port.ts';
import { startTestAgent, startTestConductor, until, type Cleanups } from '../support/paired-agent.ts';

const log = pino({ level: process.env.INGOT_TEST_LOG ?? 'silent' });
const cleanups: Cleanups = [];
afterEach(async () => { for (const cleanup of cleanups.splice(0).reverse()) await cleanup(); });

const NODE_UUID = '1be26c0b-03f2-4d4e-9e8c-5f1b5c1b0a03';
const MiB = 1024 * 1024;

describe('an image URL that refuses connections', () => {
  it('shows "retrying N/10 in S s: <why> (<url>)" in command_progress within seconds, updated per attempt, and clears it once bytes flow', async () => {
    const machine = createSimulatedMachine({ disks: 1 });
    cleanups.push(() => machine.remove());
    const conductor = await startTestConductor(machine, cleanups, log, { nodeUuid: NODE_UUID });
    await startTestAgent(machine, conductor.url, cleanups, log);
    const beat = await until('the first heartbeat', () => conductor.heartbeats[0]);
    const client = new AgentClient({ url: beat.callbackUrl, token: conductor.tokens[0]!, ca: beat.agentVerifyCa, log });
    cleanups.push(() => client.close());

    const image = randomBytes(4 * MiB);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/img.raw`;
    const node: NodeInfo = { uuid: NODE_UUID, instance_info: { root_device: { name: machine.disks[0]! } } };
    const versions = (await client.getDeploySteps(node, [])).hardwareManagerVersion;
    const started = Date.now();
    await client.executeDeployStep({
      interface: 'deploy', step: 'write_image',
      args: { image_info: { id: 'unreachable', urls: [url], disk_format: 'raw', os_hash_algo: 'sha256', os_hash_value: createHash('sha256').update(image).digest('hex') }, configdrive: null },
    }, node, [], versions);

    const seen: string[] = [];
    const progress = async (): Promise<CommandProgress | null | undefined> => {
      const command = (await client.getCommandsStatus()).find((result) => result.command_name === 'execute_deploy_step');
      const current = command?.command_progress;
      if (current?.message && seen.at(-1) !== current.message) seen.push(current.message);
      return current;
    };
    const retrying = (attempt: number) => new RegExp(`^retrying ${attempt}/10 in \\d+ s: cannot connect: connect ECONNREFUSED 127\\.0\\.0\\.1:${port} \\(http://127\\.0\\.0\\.1:${port}/img\\.raw\\)$`);
    const first = await pollUntil(async () => { const p = await progress(); return p?.message && retrying(2).test(p.message) ? p : undefined; }, 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(first.stage).toBe('writing image');
    await pollUntil(async () => { const p = await progress(); return p?.message && retrying(3).test(p.message) ? p : undefined; }, 10_000);

    // The server comes up on that port: the next attempt gets bytes, the message goes back to the rate, the write succeeds.
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': String(image.length) });
      res.end(image);
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
    const done = await client.waitForCommand('execute_deploy_step', { intervalMs: 200, timeoutMs: 60_000 });
    expect(done.command_status, JSON.stringify(done.command_error)).toBe('SUCCEEDED');
    expect(done.command_progress?.message).toMatch(/MiB\/s/);
    expect(seen.filter((message) => message.startsWith('retrying')).length).toBeGreaterThanOrEqual(2);
  }, 90_000);
});

async function pollUntil<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`not seen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
