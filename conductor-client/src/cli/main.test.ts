import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandProgress } from '@ingot/protocol';
import { FAKE_DISK_IDENTIFIER, createFakeAgentServer, pairFakeAgent } from '../testing.ts';
import { verify } from 'unixcrypt';
import { runCli, type CliIo } from './main.ts';

const MAC = '52:54:00:0a:0b:0c';
const NODE_UUID = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0)) await c(); });

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ingot-cli-logs-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function capture(): CliIo & { out: (l: string) => void; lines: string[]; errors: string[]; writes: string[]; url: (where?: string[]) => Promise<string> } {
  const lines: string[] = [];
  const errors: string[] = [];
  const writes: string[] = [];
  return {
    lines, errors, writes,
    write: (text) => writes.push(text),
    logStream: new Writable({ write(_chunk, _enc, done) { done(); } }),
    out: (line) => lines.push(line),
    err: (line) => errors.push(line),
    url: async (where = lines) => {
      for (;;) {
        const found = where.map((l) => /^listening on (\S+)/.exec(l)?.[1]).find(Boolean);
        if (found) return found;
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

describe('ingot-conductor clean', () => {
  it('prints progress as the agent pairs and each step runs, and exits 0', async () => {
    const io = capture();
    const agent = await createFakeAgentServer();
    cleanups.push(() => agent.close());
    const run = runCli(['clean', '--mac', MAC, '--listen', '127.0.0.1:0', '--allow', '127.0.0.1', '--poll-interval', '0.01'], io);
    const pairing = await pairFakeAgent({ apiUrl: await io.url(), agent, macs: [MAC] });
    await pairing.heartbeat();
    expect(await run).toBe(0);
    const text = io.lines.join('\n');
    expect(text).toContain('lookup from 127.0.0.1: token issued');
    expect(text).toMatch(/agent ingot-fake-1.0 paired/);
    expect(text).toContain('step 1/1 deploy.erase_devices_metadata (priority 99) started');
    expect(text).toMatch(/cleaning done: 1 step/);
    expect(text).not.toContain(pairing.token);
  });

  it('exits 1 with the agent error when a step fails, having saved the ramdisk logs into --logs-dir first', async () => {
    const io = capture();
    const dir = tempDir();
    const agent = await createFakeAgentServer({ handlers: { 'clean.execute_clean_step': () => { throw new Error('no disks found'); } } });
    cleanups.push(() => agent.close());
    const run = runCli(['clean', '--mac', MAC, '--node-uuid', NODE_UUID, '--listen', '127.0.0.1:0', '--poll-interval', '0.01', '--logs-dir', dir], io);
    const pairing = await pairFakeAgent({ apiUrl: await io.url(), agent, macs: [MAC] });
    await pairing.heartbeat();
    expect(await run).toBe(1);
    const [file] = readdirSync(dir);
    // One line: where (node, step), why (the agent's error, once), what to try (the logs just saved).
    expect(io.errors).toEqual([`ingot-conductor: node ${NODE_UUID}: deploy.erase_devices_metadata failed on the agent: Command execution failed: no disks found; try: see the ramdisk logs in ${join(dir, file!)}`]);
    expect(file).toMatch(new RegExp(`^${NODE_UUID}_cleaning_\\d{4}(-\\d{2}){5}\\.tar\\.gz$`));
    expect(readFileSync(join(dir, file!), 'utf8')).toBe('fake logs');
    expect(io.lines).toContain(`ramdisk logs at the end of cleaning (9 bytes) saved to ${join(dir, file!)}`);
  });

  it('collects nothing with --collect-logs never, even when a step fails', async () => {
    const io = capture();
    const dir = join(tempDir(), 'logs');
    const agent = await createFakeAgentServer({ handlers: { 'clean.execute_clean_step': () => { throw new Error('no disks found'); } } });
    cleanups.push(() => agent.close());
    const run = runCli(['clean', '--mac', MAC, '--listen', '127.0.0.1:0', '--poll-interval', '0.01', '--collect-logs', 'never', '--logs-dir', dir], io);
    const pairing = await pairFakeAgent({ apiUrl: await io.url(), agent, macs: [MAC] });
    await pairing.heartbeat();
    expect(await run).toBe(1);
    expect(agent.requests.map((r) => (r.body as { name?: string } | undefined)?.name)).not.toContain('log.collect_system_logs');
    expect(() => readdirSync(dir)).toThrow(/ENOENT/);
  });

  it('says an agent gone after its heartbeat in one line: the URL, ECONNREFUSED once, and what to check', async () => {
    const io = capture();
    const agent = await createFakeAgentServer();
    const run = runCli(['clean', '--mac', MAC, '--node-uuid', NODE_UUID, '--listen', '127.0.0.1:0', '--poll-interval', '0.01', '--collect-logs', 'never'], io);
    const pairing = await pairFakeAgent({ apiUrl: await io.url(), agent, macs: [MAC] });
    await agent.close();
    await pairing.heartbeat();
    expect(await run).toBe(1);
    const failure = io.errors.at(-1)!;
    expect(failure).toBe(`ingot-conductor: node ${NODE_UUID}: clean.get_clean_steps: Agent unreachable: ${agent.url}/v1/commands/: connect ECONNREFUSED ${new URL(agent.url).host}; try: check that the agent is still running and that this host can reach its callback URL ${agent.url}`);
    // Before it, the client's retries, one warning line each.
    expect(io.errors.slice(0, -1).every((line) => /^ingot-conductor: warning: agent unreachable; retrying command: Agent unreachable: .*: connect ECONNREFUSED [^:]+:\d+$/.test(line))).toBe(true);
  });

  it('exits 1 naming what it waited for, and what to try, when no agent comes', async () => {
    const io = capture();
    expect(await runCli(['clean', '--mac', MAC, '--node-uuid', NODE_UUID, '--listen', '127.0.0.1:0', '--timeout', '0.2'], io)).toBe(1);
    expect(io.errors).toHaveLength(1);
    expect(io.errors[0]).toMatch(new RegExp(`^ingot-conductor: node ${NODE_UUID}: timed out after 0\\.2 s waiting for a lookup from the agent; try: start the agent with --api-url http://127\\.0\\.0\\.1:\\d+ \\(ipa-api-url\\) on a machine with the MAC ${MAC}$`));
  });

  it('exits 2 with one line on a usage error, and 0 with the help', async () => {
    const io = capture();
    expect(await runCli(['clean'], io)).toBe(2);
    expect(io.errors).toEqual(["ingot-conductor clean: required option '--mac <mac>' not specified\nRun ingot-conductor clean --help for usage."]);
    expect(await runCli(['clean', '--help'], io)).toBe(0);
    expect(io.lines.join('\n')).toContain('Usage: ingot-conductor clean [options]');
  });

  it('prints the result alone on stdout with --json, the narrative on stderr', async () => {
    const io = capture();
    const agent = await createFakeAgentServer();
    cleanups.push(() => agent.close());
    const run = runCli(['clean', '--json', '--mac', MAC, '--node-uuid', NODE_UUID, '--listen', '127.0.0.1:0', '--poll-interval', '0.01'], io);
    const pairing = await pairFakeAgent({ apiUrl: await io.url(io.errors), agent, macs: [MAC] });
    await pairing.heartbeat();
    expect(await run).toBe(0);
    expect(io.lines).toHaveLength(1);
    const result = JSON.parse(io.lines[0]!);
    expect(result).toMatchObject({
      command: 'clean', outcome: 'succeeded', exit_status: 0, node: { uuid: NODE_UUID, state: 'available' },
      agent: { version: 'ingot-fake-1.0' }, cleaning: { steps: [{ interface: 'deploy', step: 'erase_devices_metadata', priority: 99 }] }, deploy: null, error: null,
    });
    expect(result.cleaning.steps[0].duration_s).toBeGreaterThan(0);
    expect(io.errors.join('\n')).toMatch(/cleaning done/);
    expect(JSON.stringify(result)).not.toContain(pairing.token);
  });

  it('gives the timeout a stable code with --json, exit 1', async () => {
    const io = capture();
    expect(await runCli(['clean', '--json', '--mac', MAC, '--listen', '127.0.0.1:0', '--timeout', '0.2'], io)).toBe(1);
    expect(JSON.parse(io.lines.at(-1)!)).toMatchObject({
      outcome: 'timed out', exit_status: 1, node: { state: 'cleaning' }, agent: null,
      error: { code: 'INGOT_CONDUCTOR_TIMEOUT', message: 'Timed out: after 0.2 s waiting for a lookup from the agent', hint: expect.stringContaining('--api-url') },
    });
  });
});

const IMAGE_URL = 'http://127.0.0.1:9/images/disk.img.zst';
const MiB = 1024 * 1024;
const SHA = 'ef'.repeat(32);

describe('ingot-conductor deploy', () => {
  it('cleans, deploys with a progress bar, prints the root uuid and exits 0', async () => {
    const io = capture();
    const agent = await createFakeAgentServer({ stepDurationMs: 60, imageBytes: 300 * 1024 * 1024, imageChunks: 6 });
    cleanups.push(() => agent.close());
    const run = runCli(['deploy', '--mac', MAC, '--listen', '127.0.0.1:0', '--poll-interval', '0.01', '--image-url', IMAGE_URL, '--image-checksum', `sha256:${SHA}`, '--root-device', 'name=/dev/vdb'], io);
    const pairing = await pairFakeAgent({ apiUrl: await io.url(), agent, macs: [MAC] });
    await pairing.heartbeat();
    expect(await run).toBe(0);
    const text = io.lines.join('\n');
    expect(text).toMatch(/cleaning done: 1 step/);
    expect(text).toContain('deploy step deploy.write_image started');
    expect(text).toMatch(new RegExp(`deploy done: image written and verified in [0-9.]+ s \\([0-9.]+ MiB/s served\\); /dev/fake0: MBR disk identifier ${FAKE_DISK_IDENTIFIER}; agent powering off`));
    expect(text).toMatch(/is active after/);
    // Not a terminal: whole lines, the first and the completed one at least.
    expect(io.writes.length).toBeGreaterThanOrEqual(2);
    expect(io.writes.every((w) => w.endsWith('\n') && !w.includes('\r'))).toBe(true);
    expect(io.writes.at(-1)).toMatch(/^ {2}image \[#{30}\] 100% 300\/300 MiB/);
    const write = agent.requests.find((r) => (r.body as { name?: string } | undefined)?.name === 'deploy.execute_deploy_step');
    expect((write?.body as { params: { step: { args: { image_info: unknown } } } }).params.step.args.image_info).toMatchObject({ id: 'disk.img.zst', urls: [IMAGE_URL], os_hash_algo: 'sha256', os_hash_value: SHA });
    expect([...io.lines, ...io.writes].join('\n')).not.toContain(pairing.token);
  });

  it('exits 1 naming the agent error when the image write fails', async () => {
    const io = capture();
    const agent = await createFakeAgentServer({ handlers: { 'deploy.execute_deploy_step': () => { throw new Error('checksum mismatch for disk.img.zst'); } } });
    cleanups.push(() => agent.close());
    const dir = tempDir();
    const run = runCli(['deploy', '--skip-cleaning', '--mac', MAC, '--listen', '127.0.0.1:0', '--poll-interval', '0.01', '--image-url', IMAGE_URL, '--image-checksum', SHA, '--logs-dir', dir], io);
    const pairing = await pairFakeAgent({ apiUrl: await io.url(), agent, macs: [MAC] });
    await pairing.heartbeat();
    expect(await run).toBe(1);
    expect(io.lines.join('\n')).toMatch(/ramdisk logs at the end of the deploy \(9 bytes\) saved to /);
    expect(readdirSync(dir)).toHaveLength(1);
    expect(io.errors).toHaveLength(1);
    expect(io.errors[0]).toMatch(/^ingot-conductor: node [0-9a-f-]{36}: deploy\.write_image failed on the agent: Command execution failed: checksum mismatch for disk\.img\.zst; try: see the ramdisk logs in /);
    expect(io.errors[0]!.match(/checksum mismatch/g)).toHaveLength(1);
    expect(io.lines.join('\n')).not.toMatch(/cleaning done/);
  });

  it('redraws the bar in place on a terminal', async () => {
    const io = { ...capture(), isTTY: true };
    const agent = await createFakeAgentServer({ stepDurationMs: 60, imageChunks: 3 });
    cleanups.push(() => agent.close());
    const run = runCli(['deploy', '--skip-cleaning', '--mac', MAC, '--listen', '127.0.0.1:0', '--poll-interval', '0.01', '--image-url', IMAGE_URL, '--image-checksum', `sha256:${SHA}`], io);
    const pairing = await pairFakeAgent({ apiUrl: await io.url(), agent, macs: [MAC] });
    await pairing.heartbeat();
    expect(await run).toBe(0);
    // cli-progress draws each line from column 1 (CSI 1G) and clears to its right (CSI 0K); one newline at the end.
    const text = io.writes.join('');
    const drawn = text.split('\x1b[1G').slice(1).map((part) => part.split('\x1b[0K')[0]);
    expect(drawn.length).toBeGreaterThanOrEqual(2);
    expect(drawn.every((line) => line!.startsWith('  image ['))).toBe(true);
    expect(drawn.at(-1)).toMatch(/100%/);
    expect(text.match(/\n/g)).toHaveLength(1);
    expect(text.endsWith('\n')).toBe(true);
  });
});

describe('what ingot-conductor deploy tells a person', () => {
  const RETRYING = 'retrying 3/10 in 4 s: connect ECONNREFUSED 127.0.0.1:9 (http://127.0.0.1:9/images/disk.img.zst)';
  const GUID = '1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b';
  /** A write_image that waits on retries before its first byte, as the agent reports a refused image URL, then writes a GPT image. */
  const retryingWrite = async (params: Record<string, unknown>, context: { setProgress(p: CommandProgress): void }) => {
    context.setProgress({ stage: 'writing image', done: 0, unit: 'bytes', message: RETRYING });
    await new Promise((resolve) => setTimeout(resolve, 150));
    context.setProgress({ stage: 'writing image', done: MiB, total: MiB, unit: 'bytes' });
    return { deploy_result: { result: 'prepare_image: image (disk.img.zst) written to device /dev/vda root_uuid=0x00000000' }, deploy_step: params.step };
  };

  it('shows the agent\'s retry message at once instead of an empty bar, and a GPT image by its disk GUID', async () => {
    const io = capture();
    const agent = await createFakeAgentServer({
      handlers: {
        'deploy.execute_deploy_step': retryingWrite,
        'standby.get_partition_uuids': () => ({ 'root uuid': '0x00000000', partition_table: 'gpt', disk_guid: GUID }),
      },
    });
    cleanups.push(() => agent.close());
    const run = runCli(['deploy', '--skip-cleaning', '--mac', MAC, '--listen', '127.0.0.1:0', '--poll-interval', '0.02', '--image-url', IMAGE_URL, '--image-checksum', `sha256:${SHA}`], io);
    const pairing = await pairFakeAgent({ apiUrl: await io.url(), agent, macs: [MAC] });
    await pairing.heartbeat();
    expect(await run).toBe(0);
    // Off a terminal the bar prints a line at most every 5 s, but a new message at once.
    expect(io.writes).toContain(`  image ${RETRYING}\n`);
    expect(io.writes.join('')).not.toMatch(/image 0\.0 MiB\n/);
    expect(io.lines.join('\n')).toContain(`; /dev/vda: GPT disk ${GUID}; agent powering off`);
    expect(io.lines.join('\n')).not.toContain('0x00000000');
  });

  it('reads a GPT image\'s empty MBR signature from an agent without Ingot\'s keys as what it is, and carries the root disk in --json', async () => {
    const io = capture();
    const agent = await createFakeAgentServer({
      handlers: { 'deploy.execute_deploy_step': retryingWrite, 'standby.get_partition_uuids': () => ({ 'root uuid': '0x00000000' }) },
    });
    cleanups.push(() => agent.close());
    const run = runCli(['deploy', '--json', '--skip-cleaning', '--mac', MAC, '--listen', '127.0.0.1:0', '--poll-interval', '0.02', '--image-url', `${IMAGE_URL}?temp_url_sig=s3cret`, '--image-checksum', `sha256:${SHA}`], io);
    const pairing = await pairFakeAgent({ apiUrl: await io.url(io.errors), agent, macs: [MAC] });
    await pairing.heartbeat();
    expect(await run).toBe(0);
    expect(io.errors.join('\n')).toContain('; /dev/vda: no MBR disk identifier (GPT image);');
    expect(io.lines).toHaveLength(1);
    const result = JSON.parse(io.lines[0]!);
    expect(result).toMatchObject({
      command: 'deploy', outcome: 'succeeded', node: { state: 'active' }, cleaning: null,
      deploy: { device: '/dev/vda', root_uuid: '0x00000000', root_disk: 'no MBR disk identifier (GPT image)', powered_off: true, served_bytes: MiB },
    });
    expect(result.deploy.write_image_s).toBeGreaterThan(0.1);
    expect(result.deploy).not.toHaveProperty('partition_table');
    expect(io.lines[0]).not.toContain('s3cret');
  });

  it('with --verbose logs JSON with stacks to the log stream, and the failure line carries the stack after it', async () => {
    const { io, logged, token, status } = await failingVerboseDeploy(false);
    expect(status).toBe(1);
    const failure = logged.map((line) => JSON.parse(line) as { msg: string; err?: { message: string; stack: string } }).find((r) => r.msg === 'deploy failed');
    expect(failure?.err?.message).toBe('Deploy step failed: deploy.write_image failed on the agent: Command execution failed: checksum mismatch for disk.img.zst');
    expect(failure?.err?.stack).toMatch(/\n\s+at /);
    expect(io.errors).toHaveLength(1);
    expect(io.errors[0]).toMatch(/^ingot-conductor: node .*checksum mismatch for disk\.img\.zst; try: see the log above\n\s+at /);
    expect(logged.join('')).not.toContain(token);
  });
});

/** A deploy whose write_image fails, with --verbose, its log captured as a terminal (logIsTTY) or a pipe would get it. */
async function failingVerboseDeploy(logIsTTY: boolean) {
  const logged: string[] = [];
  const io = { ...capture(), logIsTTY, logStream: new Writable({ write(chunk, _enc, done) { logged.push(String(chunk)); done(); } }) };
  const agent = await createFakeAgentServer({ handlers: { 'deploy.execute_deploy_step': () => { throw new Error('checksum mismatch for disk.img.zst'); } } });
  cleanups.push(() => agent.close());
  const run = runCli(['deploy', '--verbose', '--skip-cleaning', '--collect-logs', 'never', '--mac', MAC, '--listen', '127.0.0.1:0', '--poll-interval', '0.01', '--image-url', IMAGE_URL, '--image-checksum', SHA], io);
  const pairing = await pairFakeAgent({ apiUrl: await io.url(), agent, macs: [MAC] });
  await pairing.heartbeat();
  return { io, logged, token: pairing.token, status: await run };
}

describe('ingot-conductor\'s end by signal and its readable log', () => {
  it('exits 130 on an interrupt, in one line, and closes its port', async () => {
    const io = capture();
    const interrupt = new AbortController();
    const run = runCli(['clean', '--mac', MAC, '--node-uuid', NODE_UUID, '--listen', '127.0.0.1:0'], io, interrupt.signal);
    const url = await io.url();
    interrupt.abort();
    expect(await run).toBe(130);
    expect(io.errors).toEqual([`ingot-conductor: interrupted; node ${NODE_UUID} was cleaning`]);
    await expect(fetch(`${url}/v1/lookup?addresses=${MAC}`)).rejects.toThrow();
  });

  it('with --verbose on a terminal writes the log readable (pino-pretty), stacks included, not JSON', async () => {
    const { logged, token, status } = await failingVerboseDeploy(true);
    expect(status).toBe(1);
    const text = logged.join('').replace(/\x1b\[[0-9;]*m/g, '');
    expect(text).toMatch(/ERROR.*: deploy failed/);
    expect(text).toMatch(/\n\s+at /);
    expect(text.split('\n').filter((line) => line.startsWith('{'))).toEqual([]);
    expect(text).not.toContain(token);
  });
});

describe('ingot-conductor rescue', () => {
  it('sends the hash of the password file\'s first line, waits for the agent to stop, and exits 0 without printing the password', async () => {
    const io = capture();
    const file = join(tempDir(), 'rescue-password');
    writeFileSync(file, 'sw0rdfish and more\n', { mode: 0o600 });
    const agent = await createFakeAgentServer();
    cleanups.push(() => agent.close());
    const run = runCli(['rescue', '--mac', MAC, '--listen', '127.0.0.1:0', '--poll-interval', '0.01', '--rescue-password-file', file], io);
    const pairing = await pairFakeAgent({ apiUrl: await io.url(), agent, macs: [MAC] });
    await pairing.heartbeat();
    expect(await run).toBe(0);
    const sent = agent.requests.find((r) => (r.body as { name?: string } | undefined)?.name === 'rescue.finalize_rescue');
    const params = (sent?.body as { params: { rescue_password: string; hashed: boolean } }).params;
    expect(params.hashed).toBe(true);
    expect(verify('sw0rdfish and more', params.rescue_password)).toBe(true);
    const text = io.lines.join('\n');
    expect(text).toContain('finalize_rescue accepted (the password\'s SHA-512 crypt hash)');
    expect(text).toContain('is rescued: log in on its console as "rescue"');
    expect(`${text}${io.errors.join('')}`).not.toContain('sw0rdfish');
  });

  it('exits 2 naming the file when the password file is missing or its first line empty', async () => {
    const missing = capture();
    expect(await runCli(['rescue', '--mac', MAC, '--listen', '127.0.0.1:0', '--rescue-password-file', '/nonexistent/pw'], missing)).toBe(2);
    expect(missing.errors.join('\n')).toContain('--rescue-password-file /nonexistent/pw: ENOENT');
    const empty = capture();
    const file = join(tempDir(), 'empty');
    writeFileSync(file, '\nsecret-on-line-two\n');
    expect(await runCli(['rescue', '--mac', MAC, '--listen', '127.0.0.1:0', '--rescue-password-file', file], empty)).toBe(2);
    expect(empty.errors.join('\n')).toMatch(/first line is empty/);
    expect(empty.errors.join('\n')).not.toContain('secret-on-line-two');
  });

  /** A rescue through an agent that refuses hashed passwords, as agents before IPA 6.0 do. */
  async function legacyRescue(...extra: string[]) {
    const io = capture();
    const file = join(tempDir(), 'pw');
    writeFileSync(file, 'pw\n');
    const agent = await createFakeAgentServer({ legacyRescue: true });
    cleanups.push(() => agent.close());
    const run = runCli(['rescue', '--mac', MAC, '--listen', '127.0.0.1:0', '--poll-interval', '0.01', '--rescue-password-file', file, ...extra], io);
    const pairing = await pairFakeAgent({ apiUrl: await io.url(), agent, macs: [MAC] });
    await pairing.heartbeat();
    return { io, status: await run };
  }

  it('warns in one line, the agent\'s refusal included and no stack, when it falls back to the plain password', async () => {
    const { io, status } = await legacyRescue();
    expect(status).toBe(0);
    expect(io.errors).toHaveLength(1);
    expect(io.errors[0]).toMatch(/^ingot-conductor: warning: the agent refused the hashed rescue password; sending the plain password, as Ironic does for older agents: .*hashed/);
    expect(io.errors[0]).not.toMatch(/\n|\bat /);
  });

  it('exits 1 when the agent refuses the hash and --require-hashed-password forbids the plain password', async () => {
    const { io, status } = await legacyRescue('--require-hashed-password');
    expect(status).toBe(1);
    expect(io.errors).toHaveLength(1);
    expect(io.errors[0]).toMatch(/^ingot-conductor: node [0-9a-f-]{36}: .*hashed/);
  });
});
