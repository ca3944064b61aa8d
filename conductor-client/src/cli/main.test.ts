import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createFakeAgentServer, pairFakeAgent } from '../testing.ts';
import { runCli, type CliIo } from './main.ts';

const MAC = '52:54:00:0a:0b:0c';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.splice(0)) await c(); });

function capture(): CliIo & { out: (l: string) => void; lines: string[]; errors: string[]; url: () => Promise<string> } {
  const lines: string[] = [];
  const errors: string[] = [];
  return {
    lines, errors,
    logStream: new Writable({ write(_chunk, _enc, done) { done(); } }),
    out: (line) => lines.push(line),
    err: (line) => errors.push(line),
    url: async () => {
      for (;;) {
        const found = lines.map((l) => /^listening on (\S+)/.exec(l)?.[1]).find(Boolean);
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

  it('exits 1 with the agent error when a step fails', async () => {
    const io = capture();
    const agent = await createFakeAgentServer({ handlers: { 'clean.execute_clean_step': () => { throw new Error('no disks found'); } } });
    cleanups.push(() => agent.close());
    const run = runCli(['clean', '--mac', MAC, '--listen', '127.0.0.1:0', '--poll-interval', '0.01'], io);
    const pairing = await pairFakeAgent({ apiUrl: await io.url(), agent, macs: [MAC] });
    await pairing.heartbeat();
    expect(await run).toBe(1);
    expect(io.errors.join('\n')).toMatch(/cleaning failed: .*no disks found/);
  });

  it('exits 2 naming what it waited for when no agent comes', async () => {
    const io = capture();
    expect(await runCli(['clean', '--mac', MAC, '--listen', '127.0.0.1:0', '--timeout', '0.2'], io)).toBe(2);
    expect(io.errors.join('\n')).toContain('timed out after 0.2 s waiting for a lookup from the agent');
  });

  it('exits 64 with a hint on a usage error, and 0 with the help', async () => {
    const io = capture();
    expect(await runCli(['clean'], io)).toBe(64);
    expect(io.errors.join('\n')).toContain('--mac is required');
    expect(await runCli(['--help'], io)).toBe(0);
    expect(io.lines.join('\n')).toContain('Usage: ingot-conductor clean');
  });
});
