import { describe, expect, it } from 'vitest';
import { IngotError } from '@ingot/protocol';
import { createAgentLogging, resolveLogFormat } from './log.ts';

const TOKEN = 'Zq9x-SECRET_tokenABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** An agent logger whose stdout (and log file) are kept as text. */
function capture(format: 'json' | 'pretty', options: { stacks?: boolean; level?: string; token?: string; file?: boolean } = {}) {
  const out: string[] = [];
  const file: string[] = [];
  const { log } = createAgentLogging({
    format,
    level: options.level ?? 'info',
    stacks: options.stacks ?? false,
    stdout: { write: (text: string) => out.push(text), isTTY: false },
    file: options.file ? { write: (text: string) => { file.push(text); } } : undefined,
    secrets: () => [options.token],
  });
  return { log, out, file };
}

describe('resolveLogFormat', () => {
  it('is readable lines on a terminal and JSON in pipes, files and the ramdisk, unless told', () => {
    expect(resolveLogFormat('auto', { stdoutIsTty: true, inRamdisk: false })).toBe('pretty');
    expect(resolveLogFormat('auto', { stdoutIsTty: false, inRamdisk: false })).toBe('json');
    expect(resolveLogFormat('auto', { stdoutIsTty: true, inRamdisk: true })).toBe('json');
    expect(resolveLogFormat('pretty', { stdoutIsTty: false, inRamdisk: true })).toBe('pretty');
    expect(resolveLogFormat('json', { stdoutIsTty: true, inRamdisk: false })).toBe('json');
  });
});

describe('the readable log form', () => {
  it('writes one line per event: local HH:MM:ss, the level as a word, the message and the plain fields', () => {
    const { log, out } = capture('pretty');
    log.warn({ disks: ['/tmp/a.img', '/tmp/b.img'], attempt: 3, note: 'two words', nested: { hidden: true }, cmdId: 'abc' }, 'something happened');
    expect(out).toHaveLength(1);
    const line = out[0]!;
    expect(line.endsWith('\n')).toBe(true);
    expect(line.trimEnd()).not.toContain('\n');
    expect(line).toMatch(/^\[\d\d:\d\d:\d\d\] WARN: something happened /);
    expect(line).toContain('disks=/tmp/a.img,/tmp/b.img');
    expect(line).toContain('attempt=3');
    expect(line).toContain('note="two words"');
    expect(line).not.toContain('hidden');
    expect(line).not.toContain('cmdId');
  });

  it('shows an error as its message, each cause once, and its code, with the stack only when asked', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    const error = new IngotError('INGOT_LOOKUP_FAILED', { details: 'connect ECONNREFUSED 127.0.0.1:9', cause });
    const quiet = capture('pretty');
    quiet.log.warn({ err: error }, 'it failed');
    expect(quiet.out).toHaveLength(1);
    expect(quiet.out[0]!.trimEnd()).toMatch(/WARN: it failed: Lookup of the node failed: connect ECONNREFUSED 127\.0\.0\.1:9 \(INGOT_LOOKUP_FAILED\)$/);
    expect(quiet.out[0]!.match(/ECONNREFUSED 127/g)).toHaveLength(1);
    expect(quiet.out[0]).not.toContain(' at ');

    const verbose = capture('pretty', { stacks: true });
    verbose.log.warn({ err: error }, 'it failed');
    expect(verbose.out[0]).toMatch(/\n\s+at .*log\.test\.ts/);
  });

  it('shows a command\'s progress in MiB with its message', () => {
    const { log, out } = capture('pretty');
    log.info({ progress: { stage: 'writing image', done: 64 * 2 ** 20, total: 256 * 2 ** 20, unit: 'bytes', message: 'retrying 2/10 in 1 s: refused' } }, 'progress');
    expect(out[0]).toContain('progress writing image 64.0/256.0 MiB (25%) retrying 2/10 in 1 s: refused');
  });

  it('never prints the held token, in the message, a field or an error, even where JSON had it escaped', () => {
    const token = `${TOKEN}"q`;
    const { log, out } = capture('pretty', { token });
    log.warn({ url: `http://c/v1/x?agent_token=${token}`, note: `see ${encodeURIComponent(token)}`, err: new Error(`bad ${token}`) }, `token ${token}`);
    expect(out).toHaveLength(1);
    expect(out[0]).toContain('***');
    expect(out[0]).not.toContain(TOKEN);
    expect(decodeURIComponent(out[0]!)).not.toContain(TOKEN);
  });
});

describe('the JSON log form', () => {
  it('keeps pino\'s lines, errors without a stack unless asked, and the log file always JSON', () => {
    const json = capture('json', { file: true });
    json.log.error({ err: Object.assign(new Error('disk gone'), { code: 'ENOENT' }) }, 'write failed');
    const record = JSON.parse(json.out[0]!) as { level: number; msg: string; err: Record<string, unknown> };
    expect(record).toMatchObject({ level: 50, msg: 'write failed', err: { type: 'Error', message: 'disk gone (ENOENT)', code: 'ENOENT' } });
    expect(record.err.stack).toBeUndefined();
    expect(json.file).toEqual(json.out);

    const pretty = capture('pretty', { file: true, stacks: true, level: 'debug' });
    pretty.log.debug({ err: new Error('disk gone') }, 'debug line');
    expect(pretty.out[0]).toMatch(/DEBUG: debug line: disk gone/);
    const fileRecord = JSON.parse(pretty.file[0]!) as { msg: string; err: { stack?: string } };
    expect(fileRecord.msg).toBe('debug line');
    expect(fileRecord.err.stack).toMatch(/log\.test\.ts/);
  });
});
