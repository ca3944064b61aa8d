import { Worker } from 'node:worker_threads';

/**
 * One worker thread that hashes views of shared buffers without copying.
 * `hash.update()` is synchronous and Node has no async incremental hash, so on
 * the main thread it would serialise with decompression; in a worker the zstd
 * deploy gained 31% (perf-limits.md 6.1). The source is inlined and run with
 * `eval` so the worker needs no TypeScript loader under tsx or vitest.
 */
const workerSource = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
let hashes = new Map();
let zeros = new Uint8Array(0);
parentPort.on('message', (m) => {
  try {
    if (m.type === 'zero') {
      const view = new Uint8Array(m.buffer, m.offset, m.length);
      if (zeros.length < view.length) zeros = new Uint8Array(view.length);
      const zero = view[0] === 0 && view[view.length - 1] === 0 && Buffer.compare(view, zeros.subarray(0, view.length)) === 0;
      parentPort.postMessage({ id: m.id, zero });
      return;
    }
    if (m.type === 'reset') {
      hashes = new Map(Object.entries(m.streams).map(([name, algorithm]) => [name, createHash(algorithm)]));
    } else if (m.type === 'update') {
      hashes.get(m.stream).update(new Uint8Array(m.buffer, m.offset, m.length));
    } else if (m.type === 'digest') {
      const digests = {};
      for (const [name, hash] of hashes) digests[name] = hash.digest('hex');
      hashes = new Map();
      parentPort.postMessage({ id: m.id, digests });
      return;
    }
    parentPort.postMessage({ id: m.id });
  } catch (error) {
    parentPort.postMessage({ id: m.id, error: String(error && error.stack || error) });
  }
});
`;

export interface DigestWorker {
  /** Starts fresh digests, one per named stream (e.g. `{ served: 'sha256' }`). */
  reset(streams: Record<string, string>): Promise<void>;
  /** Hashes `view` (which must live in a SharedArrayBuffer or be copied); resolves once hashed, so the memory may be reused. */
  update(stream: string, view: Uint8Array): Promise<void>;
  /**
   * Whether `view` (in a SharedArrayBuffer) is all zeros: a 4 MiB memcmp that
   * would otherwise sit on the main thread, which decompresses. Answered in
   * message order, before any update posted after it.
   */
  isZero(view: Uint8Array): Promise<boolean>;
  /** Final hex digests of every stream; the streams must be reset before reuse. */
  digest(): Promise<Record<string, string>>;
  close(): Promise<void>;
}

export function createDigestWorker(): DigestWorker {
  // The worker holds a few hash states and message objects: small heaps keep its share of
  // the agent's memory to a few MB (V8's defaults would let its young generation grow to 16+ MB).
  const worker = new Worker(workerSource, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16, codeRangeSizeMb: 4 } });
  worker.unref();
  let nextId = 1;
  type Reply = { id: number; error?: string; digests?: Record<string, string>; zero?: boolean };
  const pending = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  let failure: Error | undefined;
  const failAll = (error: Error) => {
    failure ??= error;
    for (const entry of pending.values()) entry.reject(error);
    pending.clear();
  };
  worker.on('message', (message: Reply) => {
    const entry = pending.get(message.id);
    if (!entry) return;
    pending.delete(message.id);
    if (pending.size === 0) worker.unref();
    if (message.error) entry.reject(new Error(`digest worker: ${message.error}`));
    else entry.resolve(message);
  });
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`digest worker exited with ${code}`)));
  const call = (message: Record<string, unknown>, transfer?: never) =>
    new Promise<Reply>((resolve, reject) => {
      if (failure) return reject(failure);
      const id = nextId++;
      // Referenced only while an answer is awaited: an idle worker never holds the process open.
      if (pending.size === 0) worker.ref();
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...message, id }, transfer);
    });
  return {
    async reset(streams) {
      await call({ type: 'reset', streams });
    },
    async update(stream, view) {
      if (!(view.buffer instanceof SharedArrayBuffer)) view = copyToShared(view);
      await call({ type: 'update', stream, buffer: view.buffer, offset: view.byteOffset, length: view.byteLength });
    },
    async isZero(view) {
      if (!(view.buffer instanceof SharedArrayBuffer)) view = copyToShared(view);
      return (await call({ type: 'zero', buffer: view.buffer, offset: view.byteOffset, length: view.byteLength })).zero === true;
    },
    async digest() {
      return (await call({ type: 'digest' })).digests ?? {};
    },
    async close() {
      failure ??= new Error('digest worker closed');
      await worker.terminate();
    },
  };
}

function copyToShared(view: Uint8Array): Uint8Array {
  const copy = new Uint8Array(new SharedArrayBuffer(view.byteLength));
  copy.set(view);
  return copy;
}
