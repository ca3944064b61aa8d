/**
 * In-process component costs for bench:snapshot's limit: CPU seconds of
 * zstd-napi's level-3 compression of every 4 MiB frame of the disk (an
 * all-zero frame costs a compare, as in the capture), of sha256 over the raw
 * disk and over the compressed stream. Reads happen outside the timed
 * sections. Prints one JSON line. Usage: snapshot-components.ts <disk image>
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import zstd from 'zstd-napi/binding.js';

const [rawPath] = process.argv.slice(2);
if (!rawPath) throw new Error('usage: snapshot-components.ts <disk image>');
const FRAME = 4 * 1024 * 1024;

const cpuS = (work: () => void): number => {
  const before = process.cpuUsage();
  work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
};

const cctx = new zstd.CCtx();
cctx.setParameter(zstd.CParameter.compressionLevel, 3);
cctx.setParameter(zstd.CParameter.checksumFlag, 1);
const zeros = new Uint8Array(FRAME);
const input = Buffer.allocUnsafe(FRAME);
const output = Buffer.allocUnsafe(FRAME + 65536);
const rawHash = createHash('sha256');
const zstHash = createHash('sha256');
let compressS = 0;
let sha256RawS = 0;
let sha256ZstS = 0;
let compressedBytes = 0;
let zeroFrame: Buffer | undefined;
const fd = openSync(rawPath, 'r');
try {
  for (let position = 0; position < statSync(rawPath).size;) {
    const n = readSync(fd, input, 0, FRAME, position);
    if (n === 0) break;
    position += n;
    const frame = input.subarray(0, n);
    let out: Buffer = output;
    compressS += cpuS(() => {
      const zero = n === FRAME && Buffer.compare(frame, zeros) === 0;
      if (zero && zeroFrame) {
        out = zeroFrame;
        return;
      }
      const written = cctx.compress2(output, frame) as number;
      out = output.subarray(0, written);
      if (zero) zeroFrame = Buffer.from(out);
    });
    compressedBytes += out.byteLength;
    sha256RawS += cpuS(() => rawHash.update(frame));
    sha256ZstS += cpuS(() => zstHash.update(out));
  }
} finally {
  closeSync(fd);
}
console.log(JSON.stringify({ compressS, sha256RawS, sha256ZstS, compressedBytes }));
