/**
 * The demo (`npm run demo`): on one machine, with no hardware and no root, the
 * reference conductor and an agent whose machine is simulated (disk files, an
 * inventory described in a file) pair over HTTPS with a one-time token, and the
 * conductor runs automated cleaning through the agent, showing each step.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createReferenceConductor } from '@ingot/conductor-client/reference-conductor';
import { createSimulatedMachine, remainingSignatures } from '../support/simulated-machine.ts';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const say = (text: string) => process.stdout.write(`${text}\n`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

function checkTools(): void {
  const missing = ['sgdisk', 'mkfs.ext4', 'wipefs', 'blkid', 'partx'].filter((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new Error(`the demo needs ${missing.join(', ')}: run scripts/demo.sh as root once, or apt-get install -y gdisk e2fsprogs util-linux`);
  }
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

async function main(): Promise<void> {
  checkTools();
  const machine = createSimulatedMachine({ disks: 2, sizeMiB: 64 });
  const uuid = '4c1a5e3e-6b1f-4d8a-9a51-1d1e8e0d0001';
  say('Ingot demo: pair a simulated machine with a conductor over HTTPS and clean its disks\n');
  say(`machine   ${machine.dir}`);
  say(`          MAC ${machine.mac}; disks ${machine.disks.map((d) => d.split('/').pop()).join(', ')} (64 MiB files)`);
  for (const disk of machine.disks) say(`          ${disk.split('/').pop()}: ${remainingSignatures(disk).join(', ') || 'blank'}`);

  const conductor = await createReferenceConductor({
    port: 0, pollIntervalMs: 500, heartbeatTimeout: 30,
    nodes: [{ uuid, macs: [machine.mac], allowedAddresses: ['127.0.0.1'] }],
    log: pino({ level: 'silent' }),
  });
  say(`conductor ${conductor.url}  (node ${uuid} enrolled by MAC, lookup allowed from 127.0.0.1 only)\n`);

  const agentLog = join(machine.dir, 'agent.log');
  const started = Date.now();
  // `npm run demo -- --agent-bundle build/agent.mjs` runs a bundled agent instead of the TypeScript sources.
  const bundleIndex = process.argv.indexOf('--agent-bundle');
  const entry = bundleIndex > 0 ? [resolve(process.argv[bundleIndex + 1] ?? '')] : ['--import', 'tsx', join(root, 'agent/src/main.ts')];
  const agent = spawn(process.execPath, [
    ...entry,
    '--api-url', conductor.url, '--machine', machine.machineFile,
    ...machine.disks.flatMap((disk) => ['--disk', disk]),
    '--listen-host', '127.0.0.1', '--listen-port', '0', '--advertise-host', '127.0.0.1',
    '--lookup-timeout', '60', '--state-dir', machine.dir,
  ], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const logStream = createWriteStream(agentLog);
  agent.stdout.pipe(logStream);
  agent.stderr.pipe(logStream);
  const agentExit = new Promise<number | null>((resolveExit) => agent.once('exit', resolveExit));
  say(`agent     pid ${agent.pid}, sandbox mode (only the 2 disk files), log ${agentLog}`);

  let firstHeartbeatMs = 0;
  conductor.on('lookup', ({ tokenIssued }) => say(`  ${seconds(Date.now() - started)}  lookup by MAC: node found, ${tokenIssued ? 'one-time token issued (stored as a hash)' : 'token withheld (******)'}`));
  conductor.on('heartbeat', ({ callbackUrl, first }) => {
    if (!first) return;
    firstHeartbeatMs = Date.now() - started;
    say(`  ${seconds(firstHeartbeatMs)}  first heartbeat: agent at ${callbackUrl}, self-signed certificate received and pinned`);
  });
  conductor.on('step-start', ({ step, index, total }) => say(`  ${seconds(Date.now() - started)}  clean step ${index + 1}/${total}: ${step.interface}.${step.step} (priority ${step.priority}) started`));
  let lastProgress = '';
  conductor.on('progress', ({ progress }) => {
    const line = progress ? `${progress.stage}${progress.total ? ` ${progress.done ?? 0}/${progress.total} ${progress.unit ?? ''}` : ''}${progress.message ? ` (${progress.message})` : ''}` : '';
    if (line && line !== lastProgress) say(`            ${line}`);
    lastProgress = line;
  });
  conductor.on('step-done', ({ step, durationMs }) => say(`  ${seconds(Date.now() - started)}  clean step ${step.step} succeeded in ${seconds(durationMs)}`));

  try {
    const cleaning = conductor.waitForCleaning(uuid);
    const outcome = await Promise.race([cleaning.then(() => 'done' as const), agentExit.then((code) => code)]);
    if (outcome !== 'done') throw new Error(`the agent exited with code ${outcome} before cleaning finished; see ${agentLog}`);
    say(`\ncleaning finished: node ${uuid} is ${conductor.state(uuid)}`);
    for (const disk of machine.disks) say(`          ${disk.split('/').pop()}: ${remainingSignatures(disk).join(', ') || 'no partition table, no filesystem signature'}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 1500));
    const idle = rssMiB(agent.pid!);
    say(`\nmeasured  start to first heartbeat ${seconds(firstHeartbeatMs)}; agent idle RSS ${idle.toFixed(1)} MiB (${bundleIndex > 0 ? 'bundled' : 'node + tsx, untranspiled'})`);
    process.stdout.write(`${JSON.stringify({ demo: 'clean', first_heartbeat_s: Number((firstHeartbeatMs / 1000).toFixed(2)), agent_idle_rss_mib: Number(idle.toFixed(1)) })}\n`);
  } finally {
    agent.kill('SIGTERM');
    await Promise.race([agentExit, new Promise((resolveWait) => setTimeout(resolveWait, 3000))]);
    if (agent.exitCode === null) agent.kill('SIGKILL');
    await conductor.close();
    if (!process.env.INGOT_DEMO_KEEP) machine.remove();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
