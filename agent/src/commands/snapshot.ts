import type { Logger } from 'pino';
import { IngotError } from '@ingot/protocol';
import { defineExtension, type Extension } from './command.ts';
import type { BlockDevices } from '../disks/block-devices.ts';
import type { Session } from '../session/session.ts';
import type { System } from '../system/system.ts';
import { runCapture, validateCapture, type SnapshotDeps } from '../snapshot/snapshot-deps.ts';

export interface SnapshotExtensionDeps extends SnapshotDeps {
  system: System;
  devices: BlockDevices;
  /** For the validation, which runs before the command has its own logger. */
  log: Logger;
  /** The cached node: its uuid goes into the manifest, its root device hints choose the disk when the request names none. */
  session: Pick<Session, 'node'>;
}

/** What snapshot.abort stops: the capture command, or the capture_snapshot step run as a service step. */
function isCapture(command: { name: string; params: Record<string, unknown> }): boolean {
  if (command.name === 'snapshot.capture') return true;
  const step = command.params.step as { step?: unknown } | undefined;
  return command.name === 'service.execute_service_step' && step?.step === 'capture_snapshot';
}

/**
 * Ingot's `snapshot` extension (IPA has none): `capture` (async, one at a
 * time like every command; params SnapshotCaptureParams, result
 * SnapshotCaptureResult) and `abort` (sync), which runs while the capture
 * runs and makes it end FAILED with nothing stored.
 */
export function createSnapshotExtension(deps: SnapshotExtensionDeps): Extension {
  const context = (log: Logger) => ({ system: deps.system, devices: deps.devices, log, node: deps.session.node ?? { uuid: 'unknown' } });
  return defineExtension('snapshot', [
    {
      name: 'capture',
      mode: 'async',
      // The validation reads the partition table (sfdisk --json, read-only): a partition that is not there is a 400.
      validate: (params) => validateCapture(context(deps.log), params, deps),
      run: (params, ctx) => runCapture({ ...context(ctx.log), signal: ctx.signal, progress: ctx.progress }, params, deps),
    },
    {
      name: 'abort',
      mode: 'sync',
      whileBusy: true,
      async run(_params, ctx) {
        const aborted = ctx.abortRunning(new IngotError('INGOT_COMMAND_FAILED', { details: 'aborted by snapshot.abort; nothing was stored, capture again when wanted' }), isCapture);
        ctx.log.info({ aborted }, aborted ? 'snapshot capture aborted' : 'no snapshot capture runs: nothing to abort');
        return { aborted: aborted !== null };
      },
    },
  ]);
}
