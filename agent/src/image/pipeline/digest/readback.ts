import type { DigestWorker } from './digest-worker.ts';
import type { SlotPool } from '../sink/slot-pool.ts';
import { DIRECT_ALIGN } from '../sink/slot-pool.ts';
import type { ImageTarget } from '../sink/target.ts';

/**
 * Re-reads the first `imageBytes` of the target (O_DIRECT on block devices,
 * so the page cache cannot answer in the disk's place) and returns their
 * digest, computed by the worker two reads behind the disk.
 */
export async function readBackDigest(target: ImageTarget, pool: SlotPool, worker: DigestWorker, imageBytes: number, algorithm: string): Promise<string> {
  await worker.reset({ readback: algorithm });
  const hashes: Promise<void>[] = [];
  for (let position = 0; position < imageBytes; position += pool.size) {
    while (pool.freeCount() === 0) await pool.whenFree();
    const slot = pool.acquire()!;
    const wanted = Math.min(pool.size, imageBytes - position);
    const length = target.direct ? Math.ceil(wanted / DIRECT_ALIGN) * DIRECT_ALIGN : wanted;
    let done = 0;
    try {
      while (done < wanted) {
        const n = await target.read(slot.view.subarray(done, length), position + done);
        if (n === 0) throw new Error(`the target ended at ${position + done} bytes, before the image's ${imageBytes}`);
        done += n;
      }
    } catch (error) {
      pool.release(slot);
      throw error;
    }
    hashes.push(worker.update('readback', slot.view.subarray(0, wanted)).finally(() => pool.release(slot)));
  }
  await Promise.all(hashes);
  return (await worker.digest()).readback ?? '';
}
