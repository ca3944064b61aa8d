import type { ImageSink } from '../../agent/src/image/pipeline/sink/image-sink.ts';
import type { SlotPool } from '../../agent/src/image/pipeline/sink/slot-pool.ts';

/**
 * The part of ImageSink a slot-filling decoder uses (the zstd decoders),
 * collecting what it dispatches, in order, and giving each slot straight
 * back to the pool: for the decoders' unit tests.
 */
export function collectingSink(pool: SlotPool) {
  const chunks: Buffer[] = [];
  const sink = {
    takeSlot: () => pool.acquire(),
    dispatchSlot(slot, length) {
      chunks.push(Buffer.from(slot.view.subarray(0, length)));
      pool.release(slot);
    },
    releaseSlot: (slot) => pool.release(slot),
    onSpace: (listener) => pool.onRelease(listener),
    onFailure() {},
  } satisfies Pick<ImageSink, 'takeSlot' | 'dispatchSlot' | 'releaseSlot' | 'onSpace' | 'onFailure'>;
  return { sink: sink as unknown as ImageSink, bytes: () => Buffer.concat(chunks), chunks };
}
