import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { IngotError } from '@ingot/protocol';
import type { Decoder } from './decoders.ts';
import { DecoderWaiters } from './decoder-waiters.ts';
import type { ImageSink } from '../sink/image-sink.ts';
import type { Slot } from '../sink/slot-pool.ts';

/**
 * zstd through zstd-napi's low-level DCtx, in a worker thread of its own,
 * straight from the shared staging buffers the socket filled into the shared
 * image slots: no copy on either side. The low-level API, not the stream
 * class, which is 27-35% slower and ignores backpressure (1 GB of RSS on
 * zero-heavy images, perf-limits.md 6.4). Off the main thread because
 * decompression is the one serial stage of a zstd deploy once the digest is
 * taken of the (much smaller) file as served: on the main thread it left the
 * socket, the slot bookkeeping and the write dispatch waiting behind it
 * (bench:deploy: 0.54 of the CPU limit).
 *
 * The worker owns no memory of its own. The main thread lends it input
 * chunks, in order, and a few free slots ahead; it answers `used` when a
 * chunk is consumed (its buffer may be reused), `full` when a slot is filled
 * (dispatched to the disk in the order lent), and `done` once the input ended
 * at a frame boundary, returning the slots it did not need.
 */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { DCtx } = require(workerData.binding);
const dctx = new DCtx();
const EMPTY = new Uint8Array(0);
const inputs = [];
const outputs = [];
let out;
let pos = 0;
// Whether the last call filled its output: zstd may then hold more output with no input left.
let outputFull = false;
// decompressStream returns 0 when a frame is complete and flushed; a later call with no input
// answers with the header size of a next frame instead, so the boundary is remembered.
let atFrameEnd = false;
let ending = false;
let finished = false;
let taken = 0;
const fail = (kind, message) => {
  finished = true;
  parentPort.postMessage({ t: 'error', kind, message });
};
function finish() {
  finished = true;
  if (out && pos > 0) parentPort.postMessage({ t: 'full', slot: out.slot, length: pos });
  else if (out) outputs.unshift(out);
  out = undefined;
  parentPort.postMessage({ t: 'done', unused: outputs.splice(0).map((o) => o.slot), taken });
}
function pump() {
  while (!finished) {
    const input = inputs[0];
    if (!input && !outputFull && !(ending && !atFrameEnd)) return ending ? finish() : undefined;
    if (!out) {
      out = outputs.shift();
      pos = 0;
      if (!out) return;
    }
    const dst = out.view.subarray(pos);
    let result;
    try {
      result = dctx.decompressStream(dst, input ? input.view.subarray(input.pos) : EMPTY);
    } catch (error) {
      return fail('corrupt', String(error && error.message || error));
    }
    const [hint, written, read] = result;
    if (hint === 0) atFrameEnd = true;
    else if (read > 0 || written > 0) atFrameEnd = false;
    outputFull = written === dst.length;
    pos += written;
    taken += read;
    if (input) {
      input.pos += read;
      if (input.pos === input.view.length) {
        inputs.shift();
        parentPort.postMessage({ t: 'used', id: input.id });
      }
    }
    if (pos === out.view.length) {
      parentPort.postMessage({ t: 'full', slot: out.slot, length: pos });
      out = undefined;
    }
    if (read === 0 && written === 0) {
      if (input) return fail('corrupt', 'the decompressor took no input with room to write');
      if (ending && !atFrameEnd) return fail('truncated', 'the stream ended inside a frame, after ' + taken + ' compressed bytes');
    }
  }
}
parentPort.on('message', (m) => {
  if (m.t === 'in') inputs.push({ id: m.id, view: new Uint8Array(m.buffer, m.offset, m.length), pos: 0 });
  else if (m.t === 'out') outputs.push({ slot: m.slot, view: new Uint8Array(m.buffer, m.offset, m.length) });
  else if (m.t === 'end') ending = true;
  pump();
});
`;

/**
 * Free slots lent to the worker ahead of its need, of the pool's 6: with 2 it
 * waited for slots more often, 3 leaves 3 for the writes in flight.
 */
const SLOTS_AHEAD = 3;

const bindingPath = createRequire(import.meta.url).resolve('zstd-napi/binding.js');

type Reply =
  | { t: 'used'; id: number }
  | { t: 'full'; slot: number; length: number }
  | { t: 'done'; unused: number[]; taken: number }
  | { t: 'error'; kind: 'corrupt' | 'truncated'; message: string };

export function createZstdDecoder(sink: ImageSink): Decoder {
  // Its heap holds a few message objects; the decompressor's window is native memory.
  const worker = new Worker(workerSource, { eval: true, workerData: { binding: bindingPath }, resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16, codeRangeSizeMb: 4 } });
  // Not unref'd: while it decodes the zero tail of an image, nothing else may keep the event loop
  // alive in a one-shot process (bench:deploy). close() always ends it.
  const waiters = new DecoderWaiters();
  const feeds = waiters.feeds;
  const lent = new Map<number, Slot>();
  let nextFeed = 1;
  // The worker finished the stream: it needs no more slots.
  let done = false;
  let closed: Promise<void> | undefined;

  const fail = (error: Error) => waiters.fail(error);
  const lend = () => {
    while (!waiters.failure && !done && !closed && lent.size < SLOTS_AHEAD) {
      const slot = sink.takeSlot();
      if (!slot) return;
      lent.set(slot.index, slot);
      worker.postMessage({ t: 'out', slot: slot.index, buffer: slot.buffer, offset: slot.view.byteOffset, length: slot.view.byteLength });
    }
  };
  const offSpace = sink.onSpace(lend);
  sink.onFailure(fail);
  worker.on('message', (reply: Reply) => {
    if (reply.t === 'used') {
      feeds.get(reply.id)?.resolve();
      feeds.delete(reply.id);
    } else if (reply.t === 'full') {
      const slot = lent.get(reply.slot);
      if (!slot) return; // a message that outlived close(), which gave the slot back already
      lent.delete(reply.slot);
      sink.dispatchSlot(slot, reply.length);
      lend();
    } else if (reply.t === 'done') {
      done = true;
      // Out of `lent` before the release: a release may call lend(), which must not hand the slot out again.
      for (const index of reply.unused) {
        const slot = lent.get(index);
        lent.delete(index);
        if (slot) sink.releaseSlot(slot);
      }
      waiters.ended?.resolve();
      waiters.ended = undefined;
    } else {
      fail(new IngotError('INGOT_IMAGE_FORMAT', { details: `the zstd stream is corrupt or truncated: ${reply.message}` }));
    }
  });
  worker.on('error', (error) => fail(new IngotError('INGOT_INTERNAL', { details: `the zstd worker failed: ${error.message}`, cause: error })));
  worker.on('exit', (code) => fail(new IngotError('INGOT_INTERNAL', { details: `the zstd worker exited with ${code}` })));
  lend();

  return {
    feed(chunk) {
      if (waiters.failure) return Promise.reject(waiters.failure);
      if (chunk.byteLength === 0) return Promise.resolve();
      const id = nextFeed++;
      return new Promise<void>((resolve, reject) => {
        feeds.set(id, { resolve, reject });
        worker.postMessage({ t: 'in', id, buffer: chunk.buffer, offset: chunk.byteOffset, length: chunk.byteLength });
      });
    },
    end() {
      if (waiters.failure) return Promise.reject(waiters.failure);
      return new Promise<void>((resolve, reject) => {
        waiters.ended = { resolve, reject };
        worker.postMessage({ t: 'end' });
      });
    },
    close() {
      // Slots go back to the pool only once the thread that may still write into them is gone.
      closed ??= (async () => {
        offSpace();
        fail(new IngotError('INGOT_INTERNAL', { details: 'the zstd decoder was closed' }));
        worker.removeAllListeners('exit');
        await worker.terminate();
        const held = [...lent.values()];
        lent.clear();
        for (const slot of held) sink.releaseSlot(slot);
      })();
      return closed;
    },
  };
}
