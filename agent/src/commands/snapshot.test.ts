import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createCommandRunner } from './command-runner.ts';
import { defineExtension } from './command.ts';
import { createFakeSystem } from '../testing.ts';
import { createSnapshotExtension } from './snapshot.ts';

const log = pino({ level: 'silent' });

/** A runner with the snapshot extension and a stand-in for a long service step (the real ones need disks: test/device). */
function setup() {
  const system = createFakeSystem();
  const snapshot = createSnapshotExtension({
    system, log, agentVersion: '0.1.0', session: { node: undefined },
    devices: { guard: { mode: 'sandbox', disks: [], allows: () => false, check: () => undefined, checkUse: () => undefined }, listDisks: async () => [], listPartitions: async () => [] },
  });
  const waitForAbort = (_params: Record<string, unknown>, ctx: { signal: AbortSignal }) => new Promise((_resolve, reject) => {
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
  });
  const service = defineExtension('service', [{ name: 'execute_service_step', mode: 'async', run: waitForAbort }]);
  return createCommandRunner({ log, extensions: [snapshot, service] });
}

describe('snapshot.abort', () => {
  it('aborts the capture_snapshot service step: it ends FAILED, aborted by snapshot.abort', async () => {
    const runner = setup();
    const step = await runner.execute('service.execute_service_step', { step: { step: 'capture_snapshot', args: {} } });
    expect((await runner.execute('snapshot.abort', {})).command_result).toEqual({ aborted: true });
    const ended = await runner.wait(step.id, 2000);
    expect(ended.command_status).toBe('FAILED');
    expect(JSON.stringify(ended.command_error)).toMatch(/aborted by snapshot\.abort; nothing was stored/);
  });

  it('leaves any other running step alone', async () => {
    const runner = setup();
    const step = await runner.execute('service.execute_service_step', { step: { step: 'write_image', args: {} } });
    expect((await runner.execute('snapshot.abort', {})).command_result).toEqual({ aborted: false });
    expect(runner.get(step.id).command_status).toBe('RUNNING');
    runner.reset();
  });
});
