/**
 * In-process component speeds for the limit (perf-limits.md 5): CPU seconds
 * of sha256 over a file and of zstd-napi's low-level decompression into
 * 4 MiB buffers. Reads happen outside the timed sections. Prints one JSON line.
 * Usage: components.ts <image.raw> <image.raw.zst> [<image.raw.szst>]
 * (the third, the seekable image, adds its digest and decompression costs).
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import zstd from 'zstd-napi/binding.js';

const [rawPath, zstPath, seekablePath] = process.argv.slice(2);
if (!rawPath || !zstPath) throw new Error('usage: components.ts <raw> <zst>');
const CHUNK = 4 * 1024 * 1024;

/** Calls `work` on every chunk of `path`, returning the CPU seconds spent inside it. */
function cpuOver(path: string, work: (chunk: Buffer) => void): number {
  const fd = openSync(path, 'r');
  const buffer = Buffer.allocUnsafe(CHUNK);
  let micros = 0;
  try {
    for (let position = 0; position < statSync(path).size;) {
      const n = readSync(fd, buffer, 0, CHUNK, position);
      if (n === 0) break;
      position += n;
      const before = process.cpuUsage();
      work(buffer.subarray(0, n));
      const used = process.cpuUsage(before);
      micros += used.user + used.system;
    }
  } finally {
    closeSync(fd);
  }
  return micros / 1e6;
}

const hashRaw = createHash('sha256');
const sha256RawS = cpuOver(rawPath, (chunk) => hashRaw.update(chunk));
const hashZst = createHash('sha256');
const sha256ZstS = cpuOver(zstPath, (chunk) => hashZst.update(chunk));
let produced = 0;
/** One DCtx over the whole file, frame after frame: the CPU that decompression costs, however many threads share it. */
function decompressCpu(path: string): number {
  const dctx = new zstd.DCtx();
  const out = new Uint8Array(CHUNK);
  produced = 0;
  return cpuOver(path, (chunk) => {
    let input: Uint8Array = chunk;
    for (;;) {
      const [, written, read] = dctx.decompressStream(out, input) as [number, number, number];
      produced += written;
      input = input.subarray(read);
      if (input.byteLength === 0 && written < out.byteLength) break;
    }
  });
}
const decompressS = decompressCpu(zstPath);
const decompressedBytes = produced;
const hashSeekable = createHash('sha256');
const seekable = seekablePath ? { sha256SeekableS: cpuOver(seekablePath, (chunk) => hashSeekable.update(chunk)), decompressSeekableS: decompressCpu(seekablePath) } : {};
console.log(JSON.stringify({ sha256RawS, sha256ZstS, decompressS, decompressedBytes, ...seekable }));
