/**
 * The agent at run time, spawned as a user runs it (`node --import tsx
 * agent/src/main.ts ... --disk <file>`), each run with a TMPDIR of its own:
 * - after SIGINT and SIGTERM (in the middle of staging a qcow2 image) and
 *   after SIGKILL (paired, serving HTTPS with its automatic-TLS key), that
 *   TMPDIR holds no ingot-* entry and no PEM key;
 * - a taken port ends it with status 1 and one line, before any lookup: a
 *   small HTTP server standing in for the conductor records that none came;
 * - a failed lookup is one warning line, readable with --log-format pretty
 *   (from the sources and from the bundle the ramdisk runs), JSON when piped.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { AgentClient } from '@ingot/conductor-client';
import { bundleAgent } from '@ingot/image-build';
import { createSimulatedMachine, type SimulatedMachine } from '../support/simulated-machine.ts';
import { freePort } from '../support/free-port.ts';
import { startTestConductor, type Cleanups } from '../support/paired-agent.ts';
import { SOURCE_NODE_ARGS } from '../support/run-source.ts';
import { startSpawned, type Spawned } from '../support/spawned.ts';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const log = pino({ level: process.env.INGOT_TEST_LOG ?? 'silent' });
const cleanups: Cleanups = [];
afterEach(async () => { for (const cleanup of cleanups.splice(0).reverse()) await cleanup(); });

type RunningAgent = Spawned;

/** A directory that is the agent's TMPDIR and nothing else's. */
function agentTmpdir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ingot-cli-tmp-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The agent from its sources through tsx, or `entry` (the bundle) given as node's arguments. */
function spawnAgent(args: string[], env: Record<string, string>, entry = [...SOURCE_NODE_ARGS, 'agent/src/main.ts']): RunningAgent {
  const agent = startSpawned(process.execPath, [...entry, ...args], { cwd: root, env: { ...process.env, FORCE_COLOR: '0', ...env } });
  cleanups.push(() => { if (agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill('SIGKILL'); });
  return agent;
}

async function waitFor<T>(what: string, agent: RunningAgent, probe: () => T | undefined | false, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline || agent.child.exitCode !== null) throw new Error(`${what}: not seen within ${ms} ms\nstdout:\n${agent.stdout()}\nstderr:\n${agent.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

function expectNothingLeft(dir: string): void {
  expect(readdirSync(dir).filter((name) => name.startsWith('ingot-')), `ingot-* entries left in the agent's TMPDIR ${dir}`).toEqual([]);
  const keys = filesUnder(dir).filter((file) => /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(readFileSync(file, 'latin1')));
  expect(keys, 'PEM private keys in the agent\'s TMPDIR').toEqual([]);
}

/**
 * Serves something that starts as a qcow2 image and never ends: the agent
 * stages it under its TMPDIR (ingot-image-*) and waits for the rest.
 */
async function stallingQcow2Server(): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => {
    requests += 1;
    res.writeHead(200, { 'Content-Length': String(64 * 1024 * 1024) });
    const head = Buffer.alloc(256 * 1024);
    head.write('QFI\xfb', 0, 'latin1');
    res.write(head); // then nothing more: the download waits for its stall timeout (60 s)
  });
  server.on('connection', (socket) => { sockets.add(socket); socket.once('close', () => sockets.delete(socket)); });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  cleanups.push(() => new Promise<void>((done) => { for (const socket of sockets) socket.destroy(); server.close(() => done()); }));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/image.qcow2`, requests: () => requests };
}

function machineWithDisk(): SimulatedMachine {
  const machine = createSimulatedMachine({ disks: 1 });
  cleanups.push(() => machine.remove());
  return machine;
}

const agentArgs = (machine: SimulatedMachine, apiUrl: string, port: number) => [
  '--api-url', apiUrl, '--machine', machine.machineFile, '--disk', machine.disks[0]!, '--listen-port', String(port), '--advertise-host', '127.0.0.1',
];

/** A spawned agent with a TMPDIR of its own, paired with an in-process conductor: serving HTTPS (automatic TLS). */
async function pairedAgent() {
  const machine = machineWithDisk();
  const tmp = agentTmpdir();
  const conductor = await startTestConductor(machine, cleanups, log);
  const agent = spawnAgent(agentArgs(machine, conductor.url, await freePort()), { TMPDIR: tmp });
  const beat = await waitFor('the first heartbeat', agent, () => conductor.heartbeats[0], 60_000);
  expect(beat.callbackUrl).toMatch(/^https:/);
  return { machine, tmp, conductor, agent, beat };
}

describe('the agent leaves nothing in its temporary directory', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`removes the staging directory of a qcow2 image it was downloading when stopped by ${signal}, and exits 130`, async () => {
      const { machine, tmp, conductor, agent, beat } = await pairedAgent();

      const image = await stallingQcow2Server();
      const client = new AgentClient({ url: beat.callbackUrl, token: conductor.tokens[0]!, ca: beat.agentVerifyCa, log });
      cleanups.push(() => client.close());
      const node = { uuid: conductor.nodeUuid, instance_info: { root_device: { name: machine.disks[0]! } } };
      const versions = (await client.getDeploySteps(node, [])).hardwareManagerVersion;
      await client.executeDeployStep({
        interface: 'deploy', step: 'write_image',
        args: { image_info: { id: 'stalls', urls: [image.url], disk_format: 'qcow2', os_hash_algo: 'sha256', os_hash_value: '0'.repeat(64) }, configdrive: null },
      }, node, [], versions);
      // Evidence that something temporary exists: the staging directory, and the second request that fills it.
      await waitFor('the qcow2 staging directory', agent, () => image.requests() >= 2 && readdirSync(tmp).some((name) => name.startsWith('ingot-image-')));

      agent.child.kill(signal);
      expect(await agent.exited).toBe(130);
      expect(agent.stdout()).toMatch(new RegExp(`"signal":"${signal}".*"msg":"stopping"`));
      expectNothingLeft(tmp);
    }, 120_000);
  }

  it('keeps its automatic-TLS key in memory: killed with SIGKILL while serving HTTPS, it leaves no key and no ingot-* entry', async () => {
    const { tmp, agent, beat } = await pairedAgent();
    // Evidence that a key exists: the agent serves HTTPS with the certificate it sent.
    expect(beat.agentVerifyCa).toMatch(/BEGIN CERTIFICATE/);
    agent.child.kill('SIGKILL');
    expect(await agent.exited).toBe('SIGKILL');
    expectNothingLeft(tmp);
  }, 120_000);
});

describe('a port already taken', () => {
  it('ends the agent with status 1 and one line naming the address, EADDRINUSE and --listen-port, and no lookup reaches the conductor', async () => {
    const machine = machineWithDisk();
    const requests: string[] = [];
    const conductor = http.createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      res.writeHead(404).end();
    });
    await new Promise<void>((done) => conductor.listen(0, '127.0.0.1', done));
    cleanups.push(() => new Promise<void>((done) => { conductor.closeAllConnections(); conductor.close(() => done()); }));
    const taken = net.createServer();
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
    cleanups.push(() => new Promise<void>((done) => taken.close(() => done())));
    const port = (taken.address() as net.AddressInfo).port;

    const tmp = agentTmpdir();
    const agent = spawnAgent(agentArgs(machine, `http://127.0.0.1:${(conductor.address() as net.AddressInfo).port}`, port), { TMPDIR: tmp });
    // The exit is the evidence: an agent that has ended cannot look up later.
    expect(await agent.exited).toBe(1);
    const lines = agent.stderr().trimEnd().split('\n');
    expect(lines, agent.stderr()).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^ingot-agent: .*cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use \\(EADDRINUSE\\); .*--listen-port`));
    expect(requests).toEqual([]);
    expectNothingLeft(tmp);
  }, 60_000);
});

describe('a lookup that finds no conductor', () => {
  const lookupWarning = (port: number) => new RegExp(`lookup failed \\(attempt (\\d+)\\): cannot reach the conductor at http://127\\.0\\.0\\.1:${port}: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}; next try in [\\d.]+ s, at \\d\\d:\\d\\d:\\d\\d`);

  it('is one readable warning line per attempt with --log-format pretty: the time, WARN, what, why and when next, no stack', async () => {
    const machine = machineWithDisk();
    const conductorPort = await freePort();
    const agent = spawnAgent([...agentArgs(machine, `http://127.0.0.1:${conductorPort}`, await freePort()), '--log-format', 'pretty'], { TMPDIR: agentTmpdir() });
    const lines = () => agent.stdout().split('\n').filter((line) => line.includes('lookup'));
    await waitFor('two lookup warnings', agent, () => lines().length >= 2);
    for (const [index, line] of lines().slice(0, 2).entries()) {
      expect(line).toMatch(new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\] WARN: ${lookupWarning(conductorPort).source}$`));
      expect(lookupWarning(conductorPort).exec(line)![1]).toBe(String(index + 1));
    }
    expect(agent.stdout()).not.toMatch(/^\s+at |ConnectionError|"level"/m);
    agent.child.kill('SIGINT');
    expect(await agent.exited).toBe(130);
  }, 60_000);

  it('is readable in the agent bundled as the ramdisk runs it: pino-pretty works in its thread, with no transport to load', async () => {
    // Inside the repository, so that the native addons the bundle leaves external resolve from node_modules.
    mkdirSync(join(root, 'build'), { recursive: true });
    const dir = mkdtempSync(join(root, 'build', 'test-bundle-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const bundle = join(dir, 'agent.mjs');
    await bundleAgent({ entry: join(root, 'agent/src/main.ts'), outfile: bundle });
    const machine = machineWithDisk();
    const conductorPort = await freePort();
    const agent = spawnAgent([...agentArgs(machine, `http://127.0.0.1:${conductorPort}`, await freePort()), '--log-format', 'pretty'], { TMPDIR: agentTmpdir() }, [bundle]);
    await waitFor('a lookup warning', agent, () => agent.stdout().includes('WARN: lookup failed'));
    expect(agent.stdout().split('\n').find((line) => line.includes('lookup failed'))).toMatch(new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\] WARN: ${lookupWarning(conductorPort).source}$`));
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(130);
    expect(agent.stderr()).toBe('');
  }, 120_000);

  it('is one JSON line per attempt when stdout is a pipe, with the URL, the reason and the next try as fields', async () => {
    const machine = machineWithDisk();
    const conductorPort = await freePort();
    const agent = spawnAgent(agentArgs(machine, `http://127.0.0.1:${conductorPort}`, await freePort()), { TMPDIR: agentTmpdir() });
    const records = () => agent.stdout().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { level: number; msg: string; lookup?: Record<string, unknown>; err?: unknown });
    await waitFor('two lookup warnings', agent, () => records().filter((record) => record.lookup).length >= 2);
    const warnings = records().filter((record) => record.level >= 40 && record.msg.includes('lookup'));
    expect(warnings.length).toBeGreaterThanOrEqual(2);
    for (const warning of warnings) {
      expect(warning.msg).toMatch(lookupWarning(conductorPort));
      expect(warning.lookup).toMatchObject({ url: `http://127.0.0.1:${conductorPort}`, reason: expect.stringContaining('ECONNREFUSED') });
      expect(warning.lookup?.retryAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(warning.err).toBeUndefined();
    }
    // Nothing else warns about the lookup: discovery and failover say it once, in that line.
    expect(records().filter((record) => record.level >= 40 && !record.lookup && !record.msg.startsWith('sandbox mode'))).toEqual([]);
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(130);
  }, 60_000);
});

