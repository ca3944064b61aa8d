import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import { extract } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import type { FileStat, RunResult, System } from '../system/system.ts';
import { createFakeSystem } from '../testing.ts';
import { collectSystemLogs, journalArgv } from './collect-system-logs.ts';

type Answer = string | { stdout?: string; stderr?: string; exitCode: number } | Error;

interface HostSpec {
  commands: Record<string, Answer>;
  files: Record<string, string>;
  dirs?: Record<string, string[]>;
  /** Files that exist but cannot be read (EACCES). */
  unreadable?: string[];
  /** Files the collector must read by range only (readText of them fails the test). */
  rangeOnly?: string[];
}

const log = pino({ level: 'silent' });
const diagnostics: Record<string, Answer> = {
  'df -a': 'Filesystem 1K-blocks Used\n/dev/sda1 1000 10\n',
  dmesg: '[    0.000000] Linux version 6.1.0\n',
  'ip addr': '2: eth0: <BROADCAST,MULTICAST,UP>\n    inet 192.0.2.2/24\n',
  'lsblk --all --output-all': 'NAME SIZE\nsda 10G\n',
  mount: '/dev/sda1 on / type ext4 (rw)\n',
  'ps aux': 'USER PID COMMAND\nroot 1 /sbin/init\n',
};

/** Answers by argv and path, never by call order; an unexpected command or path throws. */
function fakeSystem(spec: HostSpec): System {
  const fail = (code: string, path: string) => Object.assign(new Error(`${code}: cannot open '${path}'`), { code });
  const file = (path: string): string => {
    if (spec.unreadable?.includes(path)) throw fail('EACCES', path);
    const text = spec.files[path];
    if (text === undefined) throw fail('ENOENT', path);
    return text;
  };
  const unexpected = (what: string): never => { throw new Error(`unexpected ${what} in this test`); };
  return {
    ...createFakeSystem(), // devices, processes and writes as the plain fake has them (devices and processes throw)
    async run(argv, options): Promise<RunResult> {
      const answer = spec.commands[argv.join(' ')];
      if (answer === undefined) return unexpected(`command: ${argv.join(' ')}`);
      if (answer instanceof Error) throw answer;
      const result = typeof answer === 'string' ? { stdout: answer, stderr: '', exitCode: 0 } : { stdout: '', stderr: '', ...answer };
      if (result.exitCode !== 0 && !options?.allowFailure) throw new Error(`${argv.join(' ')} exited with ${result.exitCode}`);
      return { argv, ...result };
    },
    async hasTool(name) { return Object.keys(spec.commands).some((command) => command.split(' ')[0] === name); },
    async readText(path) {
      if (spec.rangeOnly?.includes(path)) unexpected(`whole read of ${path}`);
      return file(path);
    },
    async exists(path) { return path in spec.files || path in (spec.dirs ?? {}); },
    async listDir(path) {
      const names = spec.dirs?.[path];
      if (names === undefined) throw fail('ENOENT', path);
      return [...names];
    },
    async stat(path): Promise<FileStat> {
      if (path in (spec.dirs ?? {})) return { size: 4096, isFile: false, isBlockDevice: false };
      if (path in spec.files || spec.unreadable?.includes(path)) return { size: Buffer.byteLength(spec.files[path] ?? 'x'), isFile: true, isBlockDevice: false };
      throw fail('ENOENT', path);
    },
    async readRange(path, offset, length) { return Buffer.from(file(path)).subarray(offset, offset + length); },
  };
}

/** base64 → gunzip → untar, as the conductor's side does. */
async function unpack(systemLogs: string): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  const untar = extract();
  Readable.from(gunzipSync(Buffer.from(systemLogs, 'base64'))).pipe(untar);
  for await (const entry of untar) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    entries.set(entry.header.name, Buffer.concat(chunks).toString('utf8'));
  }
  return entries;
}

const journalKey = journalArgv.join(' ');

describe('collectSystemLogs', () => {
  it('archives the journal, the agent log, extra files and IPA-named command outputs as base64 gzipped tar', async () => {
    const system = fakeSystem({
      commands: { ...diagnostics, [journalKey]: 'Nov 24 ingot-agent[1]: started\n' },
      files: {
        '/proc/mdstat': 'Personalities : [raid1]\nunused devices: <none>\n',
        '/var/log/ingot/agent.log': '{"msg":"lookup succeeded"}\n',
        '/etc/ingot/agent.conf': 'api_url=https://conductor:6385\n',
      },
    });
    const result = await collectSystemLogs({ system, log, agentLogPath: '/var/log/ingot/agent.log', extraFiles: ['/etc/ingot/agent.conf'] });
    const entries = await unpack(result.system_logs);
    expect([...entries.keys()].sort()).toEqual(
      ['df', 'dmesg', 'etc/ingot/agent.conf', 'ip_addr', 'journal', 'lsblk', 'mdstat', 'mount', 'ps', 'var/log/ingot/agent.log'].sort());
    expect(entries.get('journal')).toBe('Nov 24 ingot-agent[1]: started\n');
    expect(entries.get('mdstat')).toContain('Personalities : [raid1]');
    expect(entries.get('ip_addr')).toContain('inet 192.0.2.2/24');
    expect(entries.get('var/log/ingot/agent.log')).toBe('{"msg":"lookup succeeded"}\n');
  });

  it('leaves the host\'s logs and command outputs out in sandbox mode and lists only the given block devices', async () => {
    const system = fakeSystem({
      commands: { 'lsblk --all --output-all /dev/loop7': 'NAME SIZE\nloop7 64M\n' },
      files: { '/tmp/agent.log': '{"msg":"hello"}\n' },
    });
    const result = await collectSystemLogs({ system, log, agentLogPath: '/tmp/agent.log', sandboxDisks: ['/dev/loop7', '/tmp/disk0.img'] });
    const entries = await unpack(result.system_logs);
    expect([...entries.keys()].sort()).toEqual(['lsblk', 'sandbox', 'tmp/agent.log']);
    expect(entries.get('lsblk')).toContain('loop7');
    expect(entries.get('sandbox')).toContain('/tmp/disk0.img');
  });

  it('scrubs a token planted in the agent log and the journal from every entry', async () => {
    const planted = 'f4e0c8d2-planted-token';
    const system = fakeSystem({
      commands: { ...diagnostics, [journalKey]: `GET /v1/commands/?agent_token=${planted} 200\n`, 'ps aux': `root 9 curl http://x/?agent_token=${planted}\n` },
      files: { '/proc/mdstat': '', '/var/log/ingot/agent.log': `{"url":"/v1/heartbeat?agent_token=${planted}&x=1","agent_token":"${planted}"}\n` },
    });
    const result = await collectSystemLogs({ system, log, agentLogPath: '/var/log/ingot/agent.log' });
    const entries = await unpack(result.system_logs);
    for (const text of entries.values()) expect(text).not.toContain(planted);
    expect(entries.get('var/log/ingot/agent.log')).toBe('{"url":"/v1/heartbeat?agent_token=***&x=1","agent_token":"***"}\n');
    expect(entries.get('journal')).toBe('GET /v1/commands/?agent_token=*** 200\n');
  });

  it('writes the error into the entry of a missing or failing tool and of an unreadable file instead of failing', async () => {
    const { dmesg, ...rest } = diagnostics;
    const system = fakeSystem({
      commands: {
        ...rest,
        [journalKey]: 'j\n',
        'lsblk --all --output-all': { stdout: 'NAME\n', stderr: 'lsblk: unknown column', exitCode: 1 },
        mount: Object.assign(new Error('spawn mount ENOENT'), { code: 'ENOENT' }),
      },
      files: {},
      unreadable: ['/var/log/ingot/agent.log'],
    });
    const entries = await unpack((await collectSystemLogs({ system, log, agentLogPath: '/var/log/ingot/agent.log' })).system_logs);
    expect(entries.get('dmesg')).toMatch(/^\[ingot: could not run dmesg: unexpected command: dmesg/);
    expect(entries.get('mount')).toBe('[ingot: could not run mount: spawn mount ENOENT]\n');
    expect(entries.get('lsblk')).toBe('NAME\n\n[ingot: lsblk --all --output-all exited with 1]\nlsblk: unknown column');
    expect(entries.get('mdstat')).toMatch(/^\[ingot: could not read \/proc\/mdstat: ENOENT/);
    expect(entries.get('var/log/ingot/agent.log')).toMatch(/could not read \/var\/log\/ingot\/agent\.log: EACCES/);
  });

  it('collects text files under /var/log when there is no journalctl, skipping binary and unreadable ones', async () => {
    const system = fakeSystem({
      commands: diagnostics,
      files: {
        '/proc/mdstat': '',
        '/var/log/syslog': 'Nov 24 kernel: eth0 up agent_token=leak\n',
        '/var/log/apt/history.log': 'Start-Date: 2025-11-24\n',
        '/var/log/wtmp': 'binary',
        '/var/log/syslog.2.gz': 'binary',
        '/var/log/odd.dat': 'has\u0000nul',
      },
      dirs: { '/var/log': ['syslog', 'apt', 'wtmp', 'syslog.2.gz', 'secure', 'odd.dat'], '/var/log/apt': ['history.log'] },
      unreadable: ['/var/log/secure'],
    });
    const entries = await unpack((await collectSystemLogs({ system, log })).system_logs);
    expect(entries.has('journal')).toBe(false);
    expect(entries.get('var/log/syslog')).toBe('Nov 24 kernel: eth0 up agent_token=***\n');
    expect(entries.get('var/log/apt/history.log')).toBe('Start-Date: 2025-11-24\n');
    for (const skipped of ['var/log/wtmp', 'var/log/syslog.2.gz', 'var/log/secure', 'var/log/odd.dat']) expect(entries.has(skipped)).toBe(false);
  });

  it('falls back to /var/log when journalctl exists but fails', async () => {
    const system = fakeSystem({
      commands: { ...diagnostics, [journalKey]: { stderr: 'No journal files were found.', exitCode: 1 } },
      files: { '/proc/mdstat': '', '/var/log/messages': 'hello\n' },
      dirs: { '/var/log': ['messages'] },
    });
    const entries = await unpack((await collectSystemLogs({ system, log })).system_logs);
    expect(entries.has('journal')).toBe(false);
    expect(entries.get('var/log/messages')).toBe('hello\n');
  });

  it('keeps only the newest part of a huge journal and reads a huge log file by range, saying both were truncated', async () => {
    const lines = (prefix: string) => Array.from({ length: 5000 }, (_, i) => `${prefix} line ${i}`).join('\n') + '\n';
    const system = fakeSystem({
      commands: { ...diagnostics, [journalKey]: lines('journal') },
      files: { '/proc/mdstat': '', '/var/log/ingot/agent.log': lines('agent') },
      rangeOnly: ['/var/log/ingot/agent.log'],
    });
    const result = await collectSystemLogs({ system, log, agentLogPath: '/var/log/ingot/agent.log', limits: { entryBytes: 4096 } });
    const entries = await unpack(result.system_logs);
    for (const [name, last] of [['journal', 'journal line 4999'], ['var/log/ingot/agent.log', 'agent line 4999']] as const) {
      const text = entries.get(name)!;
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
      expect(text).toMatch(/^\[ingot: truncated, kept the last \d+ of \d+ bytes\]\n/);
      expect(text.trimEnd().split('\n').at(-1)).toBe(last);
      expect(text.split('\n')[1]).toMatch(/^(journal|agent) line \d+$/);
    }
  });

  it('stops adding content once the total cap is reached and notes every entry it left out', async () => {
    const system = fakeSystem({ commands: { ...diagnostics, [journalKey]: 'x\n'.repeat(1000) }, files: { '/proc/mdstat': '' } });
    const entries = await unpack((await collectSystemLogs({ system, log, limits: { entryBytes: 1024, totalBytes: 100 } })).system_logs);
    expect(entries.get('df')).toContain('/dev/sda1');
    expect(entries.get('journal')).toBe('[ingot: omitted, the archive reached its 100-byte cap]\n');
    const total = [...entries.values()].reduce((sum, text) => sum + Buffer.byteLength(text), 0);
    expect(total).toBeLessThan(100 + entries.size * 80);
  });

  it('fails with INGOT_LOGS_FAILED only when the archive itself cannot be built', async () => {
    const system = fakeSystem({ commands: diagnostics, files: { '/proc/mdstat': '' } });
    system.hasTool = async () => { throw new Error('PATH lookup exploded'); };
    const error: unknown = await collectSystemLogs({ system, log }).catch((caught: unknown) => caught);
    expect(isIngotError(error, 'INGOT_LOGS_FAILED')).toBe(true);
    expect((error as Error).message).toBe('Collecting system logs failed: PATH lookup exploded');
  });
});
