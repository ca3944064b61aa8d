import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { IngotError, isIngotError } from '@ingot/protocol';
import { createCommandRunner } from './command-runner.ts';
import { defineExtension } from './command.ts';

const log = pino({ level: 'silent' });

function setup(historyLimit = 200) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const runner = createCommandRunner({
    log, historyLimit,
    extensions: [defineExtension('test', [
      { name: 'echo', mode: 'sync', run: async (params) => params },
      { name: 'text', mode: 'sync', run: async () => 'hello' },
      { name: 'slow', mode: 'async', run: async () => { await gate; return 'done'; } },
      { name: 'fail', mode: 'async', run: async () => { throw new Error('disk on fire'); } },
      { name: 'mismatch', mode: 'async', run: async () => { throw new IngotError('INGOT_VERSION_MISMATCH', { details: 'x' }); } },
      { name: 'checked', mode: 'async', validate: () => { throw new IngotError('INGOT_INVALID_PARAMS', { details: 'nope' }); }, run: async () => null },
    ])],
  });
  return { runner, release };
}

async function rejection(promise: Promise<unknown>): Promise<IngotError> {
  try {
    await promise;
  } catch (error) {
    if (isIngotError(error)) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('createCommandRunner', () => {
  it('runs a sync command and records it under its short name', async () => {
    const { runner } = setup();
    const result = await runner.execute('test.echo', { a: 1 });
    expect(result).toMatchObject({ command_name: 'echo', command_status: 'SUCCEEDED', command_error: null, command_result: { a: 1 } });
    expect(runner.list()).toHaveLength(1);
  });

  it('wraps a string from a sync command as {result} and from an async one with the command name', async () => {
    const { runner, release } = setup();
    expect((await runner.execute('test.text', {})).command_result).toEqual({ result: 'hello' });
    const started = await runner.execute('test.slow', {});
    release();
    const finished = await runner.wait(started.id, 1000);
    expect(finished.command_result).toEqual({ result: 'slow: done' });
  });

  it('answers busy with 409 while the last command runs, even for an unknown command', async () => {
    const { runner, release } = setup();
    await runner.execute('test.slow', {});
    const busy = await rejection(runner.execute('nope.nothing', {}));
    expect(busy.code).toBe('INGOT_AGENT_BUSY');
    expect(busy.status).toBe(409);
    expect(busy.message).toBe('Agent is busy: executing command slow');
    release();
  });

  it('rejects names without a dot, unknown extensions and unknown commands with IPA status codes', async () => {
    const { runner } = setup();
    expect((await rejection(runner.execute('nodot', {}))).status).toBe(400);
    const unknownExtension = await rejection(runner.execute('bad_extension.fake_command', {}));
    expect([unknownExtension.status, unknownExtension.message]).toEqual([404, 'Not found: Extension with id bad_extension not found.']);
    expect((await rejection(runner.execute('test.nothing', {}))).message).toBe('Invalid command: Unknown command: test.nothing');
    expect(runner.list()).toHaveLength(0);
  });

  it('runs the validator in the request and records nothing when it refuses', async () => {
    const { runner } = setup();
    expect((await rejection(runner.execute('test.checked', {}))).status).toBe(400);
    expect(runner.list()).toHaveLength(0);
  });

  it('records an async failure with the error shape Ironic reads, and a version mismatch as CLEAN_VERSION_MISMATCH', async () => {
    const { runner } = setup();
    const failed = await runner.execute('test.fail', {}, { wait: true });
    expect(failed.command_status).toBe('FAILED');
    expect(failed.command_error).toMatchObject({ type: 'CommandExecutionError', code: 500, details: 'disk on fire', error_code: 'INGOT_COMMAND_FAILED' });
    const mismatch = await runner.execute('test.mismatch', {}, { wait: true });
    expect(mismatch.command_status).toBe('CLEAN_VERSION_MISMATCH');
    expect(mismatch.command_error?.code).toBe(409);
  });

  it('bounds wait=true and answers RUNNING when the bound passes', async () => {
    const { runner, release } = setup();
    const result = await runner.execute('test.slow', {}, { wait: true, waitLimitMs: 30 });
    expect(result.command_status).toBe('RUNNING');
    release();
  });

  it('emits async-finished when an async command ends, for the early heartbeat', async () => {
    const { runner } = setup();
    const finished = new Promise((resolve) => runner.once('async-finished', resolve));
    await runner.execute('test.fail', {});
    await expect(finished).resolves.toMatchObject({ command_name: 'fail', command_status: 'FAILED' });
  });

  it('keeps a bounded history, dropping the oldest results first', async () => {
    const { runner } = setup(3);
    for (let i = 0; i < 5; i += 1) await runner.execute('test.echo', { i });
    expect(runner.list().map((r) => (r.command_result as { i: number }).i)).toEqual([2, 3, 4]);
  });

  it('forgets every command on reset, as a freshly booted agent', async () => {
    const { runner } = setup();
    await runner.execute('test.echo', {});
    runner.reset();
    expect(runner.list()).toEqual([]);
    expect(() => runner.get('missing')).toThrow(/Command Result with id missing not found/);
  });

  describe('a command that acts on the running one (whileBusy)', () => {
    function abortable() {
      const seen: string[] = [];
      const runner = createCommandRunner({
        log,
        extensions: [defineExtension('work', [
          {
            name: 'long', mode: 'async',
            run: (_params, ctx) => new Promise((_resolve, reject) => {
              ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
            }),
          },
          { name: 'other', mode: 'sync', run: async () => 'ran' },
          {
            name: 'abort', mode: 'sync', whileBusy: true,
            run: async (params, ctx) => {
              // After an await its own record is listed too: it must find the other command, not itself.
              await new Promise((resolve) => setImmediate(resolve));
              return {
              aborted: ctx.abortRunning(new IngotError('INGOT_COMMAND_FAILED', { details: 'aborted by work.abort' }), (command) => {
                seen.push(command.name);
                return params.only === undefined || command.name === params.only;
              }),
              };
            },
          },
        ])],
      });
      return { runner, seen };
    }

    it('refuses whileBusy on an async command when the runner is built', () => {
      expect(() => createCommandRunner({ log, extensions: [defineExtension('bad', [{ name: 'x', mode: 'async', whileBusy: true, run: async () => null }])] }))
        .toThrow(/bad\.x: only sync commands may run while another runs/);
    });

    it('runs while an async command runs and aborts it alone: FAILED with the reason, the agent free again', async () => {
      const { runner, seen } = abortable();
      let finished = 0;
      runner.on('async-finished', () => { finished += 1; });
      const long = await runner.execute('work.long', {});
      expect((await rejection(runner.execute('work.other', {}))).status).toBe(409);
      const abort = await runner.execute('work.abort', {});
      expect(abort).toMatchObject({ command_name: 'abort', command_status: 'SUCCEEDED', command_result: { aborted: 'work.long' } });
      expect(seen).toEqual(['work.long']);
      const ended = await runner.wait(long.id, 2000);
      expect(ended.command_status).toBe('FAILED');
      expect(JSON.stringify(ended.command_error)).toMatch(/aborted by work\.abort/);
      expect(runner.isBusy()).toBe(false);
      expect(finished).toBe(1);
      expect((await runner.execute('work.other', {})).command_status).toBe('SUCCEEDED');
    });

    it('aborts nothing when the running command is not the one it acts on, or when nothing runs', async () => {
      const { runner } = abortable();
      expect((await runner.execute('work.abort', {})).command_result).toEqual({ aborted: null });
      const long = await runner.execute('work.long', {});
      expect((await runner.execute('work.abort', { only: 'snapshot.capture' })).command_result).toEqual({ aborted: null });
      expect(runner.get(long.id).command_status).toBe('RUNNING');
      expect(runner.isBusy()).toBe(true);
      runner.reset();
    });
  });
});
