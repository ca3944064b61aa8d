/**
 * The decode rate alone of a zstd file through the deploy pipeline's zstd
 * decoders, from memory into the slot pool, nothing written or hashed: the
 * single-thread decoder against the parallel one with 1, 2... threads.
 * Prints one line per run and a JSON line. Not a timed test.
 * Usage: decode-frames.ts <file.zst> [threads,...]   (default 1,2)
 */
import { readFileSync } from 'node:fs';
import { createParallelZstdDecoder } from '../agent/src/image/pipeline/decode/parallel-zstd-decoder.ts';
import { createZstdDecoder } from '../agent/src/image/pipeline/decode/zstd-decoder.ts';
import type { Decoder } from '../agent/src/image/pipeline/decode/decoders.ts';
import type { ImageSink } from '../agent/src/image/pipeline/sink/image-sink.ts';
import { createSlotPool } from '../agent/src/image/pipeline/sink/slot-pool.ts';

const [path, threadList = '1,2'] = process.argv.slice(2);
if (!path) throw new Error('usage: decode-frames.ts <file.zst> [threads,...]');
const file = readFileSync(path);
// The socket's staging buffers: 256 KiB of shared memory, 16 in flight (served-consumer.ts).
const STAGING = 256 * 1024;
const chunks: Uint8Array[] = [];
for (let at = 0; at < file.length; at += STAGING) {
  const chunk = new Uint8Array(new SharedArrayBuffer(Math.min(STAGING, file.length - at)));
  chunk.set(file.subarray(at, at + chunk.length));
  chunks.push(chunk);
}

async function run(make: (sink: ImageSink) => Decoder): Promise<{ seconds: number; bytes: number; cpuS: number }> {
  const pool = createSlotPool();
  let bytes = 0;
  const sink = {
    takeSlot: () => pool.acquire(),
    dispatchSlot(slot, length) {
      bytes += length;
      pool.release(slot);
    },
    releaseSlot: (slot) => pool.release(slot),
    onSpace: (listener) => pool.onRelease(listener),
    onFailure() {},
  } satisfies Pick<ImageSink, 'takeSlot' | 'dispatchSlot' | 'releaseSlot' | 'onSpace' | 'onFailure'>;
  const decoder = make(sink as unknown as ImageSink);
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  const inFlight: Promise<void>[] = [];
  for (const chunk of chunks) {
    inFlight.push(decoder.feed(chunk));
    if (inFlight.length >= 16) await inFlight.shift();
  }
  await Promise.all(inFlight);
  await decoder.end();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  await decoder.close();
  return { seconds, bytes, cpuS: (used.user + used.system) / 1e6 };
}

const results: Record<string, number> = {};
const report = (name: string, r: { seconds: number; bytes: number; cpuS: number }) => {
  const mbps = r.bytes / r.seconds / 1e6;
  results[name] = Math.round(mbps);
  console.log(`${name.padEnd(12)} ${mbps.toFixed(0).padStart(6)} MB/s of image  ${r.seconds.toFixed(2)} s  ${r.cpuS.toFixed(2)} CPU s (process)`);
};
report('single', await run((sink) => createZstdDecoder(sink)));
for (const threads of threadList.split(',').map(Number)) report(`parallel ${threads}`, await run((sink) => createParallelZstdDecoder(sink, { workers: threads })));
console.log(JSON.stringify(results));
