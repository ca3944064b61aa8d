import { IngotError } from '@ingot/protocol';
import { alignSlots, createSlotPool, DIRECT_ALIGN } from '../image/pipeline/sink/slot-pool.ts';
import type { OpenFile, System } from '../system/system.ts';
import type { DiskSpan } from './capture-ranges.ts';

/** 4 MiB reads: the deploy pipeline's slot size, and one default frame. */
export const READ_CHUNK_BYTES = 4 * 1024 * 1024;

export interface DiskReader {
  /** The disk's bytes over the spans, in order: read spans read with direct I/O, zero spans as zeros never read. A chunk is valid until the next is asked for. */
  chunks(spans: readonly DiskSpan[], signal?: AbortSignal): AsyncGenerator<Uint8Array>;
  /** Whether the page cache is bypassed (false only for a disk file on a filesystem refusing O_DIRECT, such as tmpfs). */
  readonly direct: boolean;
  close(): Promise<void>;
}

/**
 * Opens a disk read-only with O_DIRECT (never for writing: the capture must
 * not change a byte, nor leave the disk's pages cached in the place of the
 * running system's). Two buffers from the deploy's slot pool, aligned for
 * O_DIRECT by the same probe: the next read runs while the current chunk is
 * copied and hashed.
 */
export async function openDiskReader(system: System, device: string): Promise<DiskReader> {
  let file: OpenFile;
  let direct = true;
  try {
    file = await system.openDisk(device, { direct: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL') throw readError(device, 0, error);
    // Only a disk file on a filesystem without O_DIRECT (tmpfs) gets here: block devices all take it.
    file = await system.openDisk(device, {}).catch((again: unknown) => { throw readError(device, 0, again); });
    direct = false;
  }
  const pool = createSlotPool(2, READ_CHUNK_BYTES);
  if (direct) {
    alignSlots(pool, (view) => {
      try {
        file.readAtSync(view.subarray(0, DIRECT_ALIGN), 0);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EINVAL') return false;
        throw readError(device, 0, error);
      }
    });
  }
  const buffers = pool.slots.map((slot) => slot.view);
  const zeros = new Uint8Array(READ_CHUNK_BYTES);

  const readFully = async (into: Uint8Array, position: number): Promise<Uint8Array> => {
    let done = 0;
    while (done < into.byteLength) {
      let count: number;
      try {
        count = await file.readAt(into.subarray(done), position + done);
      } catch (error) {
        throw await pinpoint(into.subarray(done), position + done, error);
      }
      if (count === 0) throw new IngotError('INGOT_SNAPSHOT_READ', { details: `${device} ended at byte ${position + done}, before the size it reported; was the disk resized or removed during the capture?` });
      done += count;
    }
    return into;
  };

  /**
   * A failed read of a whole chunk says only that something in its 4 MiB is
   * bad: read it again block by block (reads only) to name the first block
   * the disk refuses, which is what an operator looks for in dmesg.
   */
  const pinpoint = async (into: Uint8Array, position: number, first: unknown): Promise<IngotError> => {
    for (let at = 0; at < into.byteLength; at += DIRECT_ALIGN) {
      try {
        await file.readAt(into.subarray(at, Math.min(at + DIRECT_ALIGN, into.byteLength)), position + at);
      } catch (error) {
        return readError(device, position + at, error);
      }
    }
    return readError(device, position, first);
  };

  return {
    direct,
    async *chunks(spans, signal) {
      // Every read piece, in order; a zero piece carries no read.
      const pieces: Array<{ start: number; length: number; read: boolean }> = [];
      for (const span of spans) {
        for (let at = span.start; at < span.end; at += READ_CHUNK_BYTES) pieces.push({ start: at, length: Math.min(READ_CHUNK_BYTES, span.end - at), read: span.read });
      }
      let turn = 0;
      const start = (index: number): Promise<Uint8Array> | undefined => {
        const piece = pieces[index];
        if (!piece) return undefined;
        if (!piece.read) return Promise.resolve(zeros.subarray(0, piece.length));
        const buffer = buffers[turn++ % buffers.length]!;
        return readFully(buffer.subarray(0, piece.length), piece.start);
      };
      let next = start(0);
      for (let index = 0; next; index++) {
        signal?.throwIfAborted();
        const chunk = await next;
        // Read ahead into the other buffer while the consumer copies this one.
        next = start(index + 1);
        next?.catch(() => undefined);
        yield chunk;
      }
    },
    close: () => file.close(),
  };
}

function readError(device: string, offset: number, error: unknown): IngotError {
  const errno = (error as NodeJS.ErrnoException).code ?? 'unknown error';
  return new IngotError('INGOT_SNAPSHOT_READ', {
    details: `reading ${device} at byte ${offset} failed with ${errno} (${(error as Error).message}); the disk may be failing: check the kernel log (dmesg) for ${device}, and capture its partitions without the damaged range or replace the disk`,
    cause: error,
  });
}
