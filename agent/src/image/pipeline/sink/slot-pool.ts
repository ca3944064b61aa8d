/**
 * A bounded pool of shared, aligned buffers ("slots") that carry the image
 * from the decompressor to the digest worker and the disk. A slot is reused
 * only once its hash and its write have both finished, which is the whole of
 * the pipeline's backpressure: memory stays at count x size whatever the
 * compression ratio. 6 x 4 MiB: perf-limits.md 7 found 4 to 32 slots equally
 * fast, and each slot is 4 MiB of the agent's 128 MB budget (bench:deploy
 * measures the whole process).
 */
export const SLOT_SIZE = 4 * 1024 * 1024;
export const SLOT_COUNT = 6;
/** O_DIRECT wants buffers aligned to the logical block size; 4096 covers 512e and 4Kn disks. */
export const DIRECT_ALIGN = 4096;

export interface Slot {
  readonly index: number;
  readonly buffer: SharedArrayBuffer;
  /** `size` bytes starting at an aligned address once `alignSlots` ran (offset 0 before). */
  view: Uint8Array;
}

export interface SlotPool {
  readonly slots: readonly Slot[];
  readonly size: number;
  acquire(): Slot | undefined;
  release(slot: Slot): void;
  /** Resolves the next time a slot is released (immediately when one is free). */
  whenFree(): Promise<void>;
  /** Calls `listener` after every release; returns an unsubscribe function. */
  onRelease(listener: () => void): () => void;
  freeCount(): number;
}

export function createSlotPool(count = SLOT_COUNT, size = SLOT_SIZE): SlotPool {
  // SharedArrayBuffer so the digest worker hashes the very same memory (zero copy);
  // over-allocated so an aligned start exists inside each one.
  const slots: Slot[] = Array.from({ length: count }, (_, index) => {
    const buffer = new SharedArrayBuffer(size + DIRECT_ALIGN);
    return { index, buffer, view: new Uint8Array(buffer, 0, size) };
  });
  const free = [...slots].reverse();
  const listeners = new Set<() => void>();
  let waiters: Array<() => void> = [];
  return {
    slots,
    size,
    acquire: () => free.pop(),
    release(slot) {
      free.push(slot);
      const woken = waiters;
      waiters = [];
      for (const wake of woken) wake();
      for (const listener of listeners) listener();
    },
    whenFree: () => (free.length > 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    onRelease(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    freeCount: () => free.length,
  };
}

/**
 * Node cannot allocate aligned memory, so each slot's aligned start is found
 * by trial: `probe` performs a harmless O_DIRECT read into the view and
 * reports whether the kernel accepted its address (EINVAL otherwise). Big
 * SharedArrayBuffers come from mmap plus a small header, so the offset found
 * for the first slot nearly always fits the others.
 */
export function alignSlots(pool: SlotPool, probe: (view: Uint8Array) => boolean): void {
  let guess = 0;
  for (const slot of pool.slots) {
    const fits = (offset: number) => probe(new Uint8Array(slot.buffer, offset, DIRECT_ALIGN));
    let offset = fits(guess) ? guess : -1;
    for (let candidate = 0; offset < 0 && candidate < DIRECT_ALIGN; candidate += 16) if (fits(candidate)) offset = candidate;
    if (offset < 0) throw new Error('no O_DIRECT-aligned offset found inside an image buffer');
    guess = offset;
    slot.view = new Uint8Array(slot.buffer, offset, pool.size);
  }
}
