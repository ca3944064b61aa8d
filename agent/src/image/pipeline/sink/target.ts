import { IngotError, isIngotError } from '@ingot/protocol';
import type { OpenDiskOptions, OpenFile, System } from '../../../system/system.ts';
import { DIRECT_ALIGN } from './slot-pool.ts';

/**
 * The disk or disk file the image lands on. Block devices get O_DIRECT
 * writes at explicit offsets: on this machine that doubled the write speed,
 * cut CPU 3-5x and removed multi-second writeback stalls (perf-limits.md 3).
 * Regular files get buffered writes and an fsync, because their filesystem
 * (tmpfs among them) may refuse O_DIRECT.
 */
export interface ImageTarget {
  readonly path: string;
  readonly size: number;
  readonly isBlockDevice: boolean;
  /** Whether `write` needs buffers from `alignSlots` (true with O_DIRECT). */
  readonly direct: boolean;
  /** Writes all of `view` at `position`; the aligned part through O_DIRECT, a ragged tail buffered. */
  write(view: Uint8Array, position: number): Promise<void>;
  read(view: Uint8Array, position: number): Promise<number>;
  /** A synchronous O_DIRECT read of one block into `view`, for alignment probing; false on EINVAL. */
  probeAlignment(view: Uint8Array): boolean;
  sync(): Promise<void>;
  /** Throws INGOT_IMAGE_WRITE when the path vanished or now names another file or device. */
  checkPresent(): Promise<void>;
  close(): Promise<void>;
}

export async function openImageTarget(path: string, size: number, system: System): Promise<ImageTarget> {
  const files: OpenFile[] = [];
  const openAs = async (options: OpenDiskOptions) => {
    const file = await system.openDisk(path, options);
    files.push(file);
    return file;
  };
  try {
    const buffered = await openImageFile(system, path);
    files.push(buffered);
    const direct = buffered.isBlockDevice ? await openAs({ write: true, direct: true }) : undefined;
    const reader = await openAs({ direct: buffered.isBlockDevice });
    return {
      path,
      size,
      isBlockDevice: buffered.isBlockDevice,
      direct: direct !== undefined,
      async write(view, position) {
        const aligned = direct ? view.byteLength - (view.byteLength % DIRECT_ALIGN) : 0;
        if (aligned > 0) await direct!.writeAt(view.subarray(0, aligned), position);
        if (aligned < view.byteLength) await buffered.writeAt(view.subarray(aligned), position + aligned);
      },
      read: (view, position) => reader.readAt(view, position),
      probeAlignment(view) {
        try {
          reader.readAtSync(view.subarray(0, DIRECT_ALIGN), 0);
          return true;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EINVAL') return false;
          throw error;
        }
      },
      async sync() {
        await buffered.sync();
        if (direct) await direct.sync();
      },
      async checkPresent() {
        if (!(await buffered.stillPresent())) {
          throw new IngotError('INGOT_IMAGE_WRITE', { details: `image target ${path} disappeared while the image was being written` });
        }
      },
      async close() {
        await Promise.allSettled(files.map((file) => file.close()));
      },
    };
  } catch (error) {
    await Promise.allSettled(files.map((file) => file.close()));
    if (isIngotError(error)) throw error;
    throw new IngotError('INGOT_IMAGE_WRITE', { details: `cannot open image target ${path} for writing: ${(error as Error).message}`, cause: error });
  }
}

/**
 * Opens the image target for writing (through the System, whose guard
 * refuses a disk this agent was not given) and makes sure it is a disk: a
 * block device or a file. Comes before the first byte of any image, streamed
 * or staged.
 */
export async function openImageFile(system: System, path: string): Promise<OpenFile> {
  const file = await system.openDisk(path, { write: true }).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new IngotError('INGOT_DEVICE_NOT_FOUND', { details: `image target ${path} does not exist`, cause: error });
    throw code === 'EISDIR' ? notADisk(path) : error;
  });
  if (!file.isBlockDevice && !file.isFile) {
    await file.close();
    throw notADisk(path);
  }
  return file;
}

const notADisk = (path: string) => new IngotError('INGOT_INVALID_PARAMS', { details: `image target ${path} is neither a block device nor a file` });
