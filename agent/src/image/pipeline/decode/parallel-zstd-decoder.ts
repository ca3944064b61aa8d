import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { IngotError } from '@ingot/protocol';
import type { Decoder } from './decoders.ts';
import { DecoderWaiters, type Waiter } from './decoder-waiters.ts';
import { createFrameSplitter, type FrameSplitter } from './zstd-frame-splitter.ts';
import type { ImageSink } from '../sink/image-sink.ts';
import { DIRECT_ALIGN, SLOT_SIZE, type Slot } from '../sink/slot-pool.ts';

/**
 * zstd streams of many independent frames (Ingot's snapshots: zstd's
 * seekable format, 4 MiB of disk per frame) decoded on several threads at
 * once. zstd-decoder.ts decodes one stream on one thread; a frame, though,
 * needs nothing from the frames before it, so the frame splitter cuts the
 * stream at frame boundaries as it arrives (no seek table needed) and each
 * frame goes whole to an idle worker, each with its own DCtx, which decodes
 * it straight from the shared staging buffers into image slots lent for that
 * frame (its Frame_Content_Size says how many). Finished frames are handed
 * to the sink in frame order; no byte of a frame reaches the sink before the
 * frame decoded completely and zstd verified it (its content size, and its
 * checksum when it has one), so a corrupt frame fails with nothing of it
 * written, naming the frame and its offset.
 *
 * Memory: the sink's slot pool as before (a frame holds its slots from the
 * moment it is scheduled to its write), plus the frames' input still in the
 * staging buffers. Frames are scheduled in stream order, each taking all its
 * slots before the next takes any, so a frame never waits on slots held by a
 * later one: a frame may need at most MAX_FRAME_SLOTS, fewer than the pool.
 */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { DCtx } = require(workerData.binding);
const dctx = new DCtx();
const EMPTY = new Uint8Array(0);
// Frames given to this thread, in stream order: it decodes the first while the next one's input
// arrives, so it never waits on the main thread between frames.
const frames = [];
let failed = false;
function fail(frame, message) {
  failed = true;
  parentPort.postMessage({ t: 'error', index: frame.index, message });
  for (const f of frames.splice(0)) for (const input of f.inputs) parentPort.postMessage({ t: 'used', feed: input.feed });
}
function pump() {
  while (frames.length > 0) {
    const frame = frames[0];
    if (!frame.started) {
      // Each frame from a clean context.
      dctx.reset(1);
      frame.started = true;
    }
    const input = frame.inputs[0];
    if (!input && !(frame.ended && !frame.atEnd)) {
      if (!frame.ended || !frame.atEnd) return;
      if (frame.pos > 0) frame.lengths.push(frame.pos);
      if (frame.total !== frame.size) return fail(frame, 'it decoded to ' + frame.total + ' bytes, its header says ' + frame.size);
      parentPort.postMessage({ t: 'done', index: frame.index, lengths: frame.lengths });
      frames.shift();
      continue;
    }
    const out = frame.slots[frame.slot];
    const dst = out ? out.subarray(frame.pos) : EMPTY;
    let result;
    try {
      result = dctx.decompressStream(dst, input ? input.view.subarray(input.pos) : EMPTY);
    } catch (error) {
      return fail(frame, String((error && error.message) || error));
    }
    const [hint, written, read] = result;
    if (hint === 0) frame.atEnd = true;
    else if (read > 0 || written > 0) frame.atEnd = false;
    frame.pos += written;
    frame.total += written;
    if (out && frame.pos === out.length) {
      frame.lengths.push(frame.pos);
      frame.slot++;
      frame.pos = 0;
    }
    if (input) {
      input.pos += read;
      if (input.pos === input.view.length) {
        frame.inputs.shift();
        parentPort.postMessage({ t: 'used', feed: input.feed });
      }
    }
    if (read === 0 && written === 0) {
      if (input && dst.length > 0) return fail(frame, 'the decompressor took no input with room to write');
      if (!input && !frame.atEnd) return fail(frame, 'it ends before its last block');
      if (dst.length === 0 && !frame.atEnd) return fail(frame, 'it decodes to more than its declared content size of ' + frame.size + ' bytes');
    }
  }
}
parentPort.on('message', (m) => {
  const last = frames[frames.length - 1];
  if (m.t === 'frame') {
    if (!failed) frames.push({ index: m.index, size: m.size, slots: m.slots.map((s) => new Uint8Array(s.buffer, s.offset, s.length)), slot: 0, pos: 0, total: 0, lengths: [], inputs: [], ended: false, atEnd: false, started: false });
  } else if (m.t === 'in') {
    // Input always belongs to the frame given last: frames come in stream order, each input after its frame.
    if (last) last.inputs.push({ feed: m.feed, view: m.buffer ? new Uint8Array(m.buffer, m.offset, m.length) : m.bytes, pos: 0 });
    else parentPort.postMessage({ t: 'used', feed: m.feed });
  } else if (m.t === 'end' && last) last.ended = true;
  pump();
});
`;

/**
 * The most slots one frame may take: 4 of the pool's 6 (16 MiB of disk),
 * so two frames of Ingot's 4 MiB decode at once with slots left over for
 * the writes in flight. Snapshot frames are 1 to 64 MiB (SnapshotCaptureParams);
 * larger frames are not worth a thread each and are refused with the advice
 * to use the default.
 */
export const MAX_FRAME_SLOTS = 4;
export const MAX_PARALLEL_FRAME_BYTES = MAX_FRAME_SLOTS * SLOT_SIZE;

/**
 * Whether a stream whose first zstd frame declares `contentSize` should take
 * the parallel decoder: the frame says how much memory it needs, that fits
 * the slots, and it ends on a whole block (the next frame's bytes are then
 * written at aligned offsets, as O_DIRECT needs). A single small frame decodes
 * here as well as on the serial path.
 */
export function suitsParallelDecode(contentSize: bigint | undefined): boolean {
  return contentSize !== undefined && contentSize > 0n && contentSize <= BigInt(MAX_PARALLEL_FRAME_BYTES) && contentSize % BigInt(DIRECT_ALIGN) === 0n;
}

const bindingPath = createRequire(import.meta.url).resolve('zstd-napi/binding.js');

type Reply =
  | { t: 'used'; feed: number }
  | { t: 'done'; index: number; lengths: number[] }
  | { t: 'error'; index: number; message: string };

interface FrameState {
  index: number;
  offset: number;
  size: number;
  need: number;
  slots: Slot[];
  /** Input that waits for the frame to be scheduled. */
  queued: Array<{ feed: number; bytes: Uint8Array }>;
  ended: boolean;
  worker: WorkerState | undefined;
  lengths: number[] | undefined;
}

interface WorkerState {
  thread: Worker;
  /** Frames given to the thread and not finished, in stream order: at most FRAMES_PER_WORKER. */
  frames: FrameState[];
}

/**
 * Frames a thread holds at once: the one it decodes and the next, so that it
 * goes on to the next without a round trip to the main thread (a 4 MiB frame
 * decodes in about 1.5 ms here; a busy main thread answers slower than that).
 */
const FRAMES_PER_WORKER = 2;

/**
 * Slots the decoder may hold at once (frames decoding, or decoded and not yet
 * handed on), of the pool's 6: as many as the single decoder lends ahead
 * (zstd-decoder.ts), so the writes keep 3 in flight. Decoding a frame (about
 * 1.5 ms) is faster than writing its slot: the slots in flight to the disk are
 * what keeps the deploy fast. A frame larger than this still gets its slots
 * once the decoder holds none.
 */
const MAX_HELD_SLOTS = 3;

export interface ParallelZstdDecoderOptions {
  /** Decoding threads; one per core, at least 2, by default. */
  workers?: number;
  /** The sink's slot size (the pool's); SLOT_SIZE by default. */
  slotBytes?: number;
}

export function createParallelZstdDecoder(sink: ImageSink, options: ParallelZstdDecoderOptions = {}): Decoder {
  const count = options.workers ?? Math.max(2, availableParallelism());
  const slotBytes = options.slotBytes ?? SLOT_SIZE;
  const maxFrameBytes = MAX_FRAME_SLOTS * slotBytes;
  const splitter: FrameSplitter = createFrameSplitter();
  const frames = new Map<number, FrameState>();
  const waiting: FrameState[] = [];
  const waiters = new DecoderWaiters<{ pending: number } & Waiter>();
  const feeds = waiters.feeds;
  let nextFeed = 1;
  let nextDispatch = 0;
  /** Slots taken from the sink and not yet handed back. */
  let held = 0;
  let lastFrame: FrameState | undefined;
  let closed: Promise<void> | undefined;

  const fail = (error: Error) => waiters.fail(error);
  const frameError = (frame: { index: number; offset: number }, what: string) => new IngotError('INGOT_IMAGE_FORMAT', {
    details: `zstd frame ${frame.index} (at offset ${frame.offset} of the stream) ${what}; nothing of it was written`,
  });

  const workers: WorkerState[] = Array.from({ length: count }, () => {
    const thread = new Worker(workerSource, { eval: true, workerData: { binding: bindingPath }, resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16, codeRangeSizeMb: 4 } });
    const state: WorkerState = { thread, frames: [] };
    thread.on('message', (reply: Reply) => onReply(state, reply));
    thread.on('error', (error) => fail(new IngotError('INGOT_INTERNAL', { details: `a zstd decoding thread failed: ${error.message}`, cause: error })));
    thread.on('exit', (code) => fail(new IngotError('INGOT_INTERNAL', { details: `a zstd decoding thread exited with ${code}` })));
    return state;
  });

  const used = (feed: number) => {
    const waiter = feeds.get(feed);
    if (!waiter || --waiter.pending > 0) return;
    feeds.delete(feed);
    waiter.resolve();
  };
  const send = (worker: WorkerState, feed: number, bytes: Uint8Array) => {
    if (bytes.buffer instanceof SharedArrayBuffer) worker.thread.postMessage({ t: 'in', feed, buffer: bytes.buffer, offset: bytes.byteOffset, length: bytes.byteLength });
    else worker.thread.postMessage({ t: 'in', feed, bytes });
  };

  /** Gives the oldest waiting frames their slots and an idle worker, in stream order. */
  const schedule = () => {
    while (!waiters.failure && !closed && waiting.length > 0) {
      const frame = waiting[0]!;
      if (frame.slots.length < frame.need && held > frame.slots.length && held - frame.slots.length + frame.need > MAX_HELD_SLOTS) return;
      while (frame.slots.length < frame.need) {
        const slot = sink.takeSlot();
        if (!slot) return;
        frame.slots.push(slot);
        held++;
      }
      // The least busy thread: an idle one first.
      const worker = workers.reduce((best, w) => (w.frames.length < best.frames.length ? w : best));
      if (worker.frames.length >= FRAMES_PER_WORKER) return;
      waiting.shift();
      worker.frames.push(frame);
      frame.worker = worker;
      worker.thread.postMessage({ t: 'frame', index: frame.index, size: frame.size, slots: frame.slots.map((s) => ({ buffer: s.buffer, offset: s.view.byteOffset, length: s.view.byteLength })) });
      for (const piece of frame.queued.splice(0)) send(worker, piece.feed, piece.bytes);
      if (frame.ended) worker.thread.postMessage({ t: 'end' });
    }
  };

  /** Hands finished frames to the sink in stream order. */
  const dispatchReady = () => {
    for (let frame = frames.get(nextDispatch); frame?.lengths; frame = frames.get(nextDispatch)) {
      frames.delete(nextDispatch++);
      held -= frame.slots.length;
      frame.slots.forEach((slot, i) => {
        const length = frame.lengths![i] ?? 0;
        if (length > 0) sink.dispatchSlot(slot, length);
        else sink.releaseSlot(slot);
      });
      frame.slots = [];
    }
    if (waiters.ended && frames.size === 0) {
      waiters.ended.resolve();
      waiters.ended = undefined;
    }
  };

  function onReply(worker: WorkerState, reply: Reply): void {
    if (reply.t === 'used') return used(reply.feed);
    const frame = worker.frames.shift();
    if (!frame || frame.index !== reply.index || waiters.failure) return;
    if (reply.t === 'error') return fail(frameError(frame, `is corrupt: ${reply.message}`));
    frame.lengths = reply.lengths;
    dispatchReady();
    schedule();
  }

  /** Routes the splitter's events; returns the number of pieces that must be reported used. */
  const route = (feed: number, chunk: Uint8Array): number => {
    let pieces = 0;
    for (const event of splitter.push(chunk)) {
      if (event.type === 'start') {
        if (event.contentSize === undefined) throw frameError(event, 'declares no content size, which a stream decoded in parallel needs in every frame; compress with the size recorded (zstd does when it knows the input size)');
        if (event.contentSize > maxFrameBytes) throw frameError(event, `decodes to ${event.contentSize} bytes, more than the ${maxFrameBytes} a frame of a multi-frame stream may hold; use frames of at most 16 MiB (snapshots default to 4 MiB)`);
        if (lastFrame && lastFrame.size % DIRECT_ALIGN !== 0) throw frameError(lastFrame, `decodes to ${lastFrame.size} bytes, not a multiple of ${DIRECT_ALIGN}, and more frames follow: only the last frame of a multi-frame stream may end off a ${DIRECT_ALIGN}-byte block`);
        const frame: FrameState = { index: event.index, offset: event.offset, size: event.contentSize, need: Math.ceil(event.contentSize / slotBytes), slots: [], queued: [], ended: false, worker: undefined, lengths: undefined };
        frames.set(frame.index, frame);
        waiting.push(frame);
        lastFrame = frame;
      } else if (event.type === 'data') {
        const frame = frames.get(event.index)!;
        pieces++;
        if (frame.worker) send(frame.worker, feed, event.bytes);
        else frame.queued.push({ feed, bytes: event.bytes });
      } else {
        const frame = frames.get(event.index)!;
        frame.ended = true;
        frame.worker?.thread.postMessage({ t: 'end' });
      }
    }
    return pieces;
  };

  const offSpace = sink.onSpace(schedule);
  sink.onFailure(fail);

  return {
    get frames() {
      return splitter.frames;
    },
    feed(chunk) {
      if (waiters.failure) return Promise.reject(waiters.failure);
      if (chunk.byteLength === 0) return Promise.resolve();
      const feed = nextFeed++;
      return new Promise<void>((resolve, reject) => {
        const waiter = { pending: 1, resolve, reject };
        feeds.set(feed, waiter);
        try {
          waiter.pending += route(feed, chunk);
          schedule();
          used(feed); // the routing's own hold
        } catch (error) {
          fail(error as Error);
        }
      });
    },
    end() {
      if (waiters.failure) return Promise.reject(waiters.failure);
      try {
        splitter.end();
      } catch (error) {
        fail(error as Error);
        return Promise.reject(waiters.failure);
      }
      return new Promise<void>((resolve, reject) => {
        waiters.ended = { resolve, reject };
        dispatchReady();
      });
    },
    close() {
      // Slots go back to the pool only once no thread can write into them any more.
      closed ??= (async () => {
        offSpace();
        fail(new IngotError('INGOT_INTERNAL', { details: 'the zstd decoder was closed' }));
        await Promise.all(workers.map(async (w) => {
          w.thread.removeAllListeners('exit');
          await w.thread.terminate();
        }));
        for (const frame of frames.values()) for (const slot of frame.slots.splice(0)) sink.releaseSlot(slot);
        frames.clear();
      })();
      return closed;
    },
  };
}
