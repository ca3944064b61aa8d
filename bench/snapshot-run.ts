/**
 * One snapshot capture by the agent's own code, as bench:snapshot times it:
 * a separate process so that /usr/bin/time sees its CPU and peak RSS. Bundled
 * with image-build's esbuild settings and run with plain `node`, as the
 * ramdisk runs the agent. Prints one JSON line: the result and the wall time.
 * Usage: snapshot-run.mjs <device> <target JSON>
 */
import { pino } from 'pino';
import { createBlockDevices, createDeviceGuard, createRealSystem } from '../agent/src/index.ts';
import { parseCaptureParams } from '../agent/src/snapshot/capture-params.ts';
import { resolveCaptureSource } from '../agent/src/snapshot/capture-disk.ts';
import { captureSnapshot } from '../agent/src/snapshot/capture-snapshot.ts';
import { openSnapshotUpload, putJson } from '../agent/src/image/pipeline/http/upload/snapshot-upload.ts';

const [device, targetJson] = process.argv.slice(2);
if (!device || !targetJson) throw new Error('usage: snapshot-run <device> <target JSON>');
const log = pino({ level: 'warn' });
const guard = createDeviceGuard({ mode: 'sandbox', disks: [device] });
const system = createRealSystem({ guard, log });
const devices = createBlockDevices({ system, guard });
const request = parseCaptureParams({ device, target: JSON.parse(targetJson) as unknown });
const source = await resolveCaptureSource({ system, devices, log, node: { uuid: 'bench' } }, request);
const started = process.hrtime.bigint();
const result = await captureSnapshot({
  system, log, signal: new AbortController().signal, progress: () => {}, uploader: { openSnapshotUpload, putJson },
  agentVersion: 'bench', nodeUuid: null,
}, request, source);
const wallS = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ manifest: result.manifest, segments: result.segments.length, wallS }));
