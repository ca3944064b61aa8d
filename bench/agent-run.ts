/**
 * One deploy by Ingot's writer, as the benchmark times it: a separate process
 * so that /usr/bin/time sees its own CPU and peak RSS. bench:deploy bundles
 * this file with image-build's esbuild settings and runs it with plain `node`,
 * as the ramdisk runs the agent (no tsx, no flags). Prints one JSON line.
 * Usage: agent-run.mjs <url> <sha256> <target> [never|verified]
 * BENCH_ZSTD_THREADS sets the threads of a many-frame zstd image (default: one per core).
 */
import { createDeviceGuard, createLogger, createRealSystem } from '../agent/src/index.ts';
import { writeImage } from '../agent/src/image/pipeline/index.ts';
import { stat } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';

const [url, digest, target, skip = 'verified'] = process.argv.slice(2);
if (!url || !digest || !target || (skip !== 'never' && skip !== 'verified')) throw new Error('usage: agent-run <url> <sha256> <target> [never|verified]');
const info = await stat(target);
const size = info.isBlockDevice() ? Number(execFileSync('blockdev', ['--getsize64', target]).toString().trim()) : info.size;
const guard = createDeviceGuard({ mode: 'sandbox', disks: [target] });
const log = createLogger({ level: 'warn' });
const started = process.hrtime.bigint();
const result = await writeImage({
  urls: [url],
  expectedDigest: { algorithm: 'sha256', value: digest },
  target: { path: target, size },
  system: createRealSystem({ guard, log }),
  log,
  options: {
    stallTimeoutMs: 30_000, totalTimeoutMs: 600_000, retries: 3, backoff: { initialMs: 200, maxMs: 2000, factor: 2 },
    skipZeroBlocks: skip, progressIntervalMs: 60_000,
    ...(process.env.BENCH_ZSTD_THREADS ? { zstdThreads: Number(process.env.BENCH_ZSTD_THREADS) } : {}),
  },
});
const wallS = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ ...result, wallS }));
