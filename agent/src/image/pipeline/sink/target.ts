import { constants, readSync } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { IngotError } from '@ingot/protocol';
import type { DeviceGuard } from '../../../system/device-guard.ts';
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

export async function openImageTarget(path: string, size: number, guard: DeviceGuard): Promise<ImageTarget> {
  guard.check(path, 'write an image to');
  const info = await stat(path).catch((error: unknown) => {
    throw new IngotError('INGOT_DEVICE_NOT_FOUND', { details: `image target ${path} does not exist`, cause: error });
  });
  const isBlockDevice = info.isBlockDevice();
  if (!isBlockDevice && !info.isFile()) throw new IngotError('INGOT_INVALID_PARAMS', { details: `image target ${path} is neither a block device nor a file` });
  const handles: FileHandle[] = [];
  const openHandle = async (flags: number) => {
    const handle = await open(path, flags);
    handles.push(handle);
    return handle;
  };
  try {
    const buffered = await openHandle(constants.O_WRONLY);
    const direct = isBlockDevice ? await openHandle(constants.O_WRONLY | constants.O_DIRECT) : undefined;
    const reader = await openHandle(constants.O_RDONLY | (isBlockDevice ? constants.O_DIRECT : 0));
    const identity = `${info.dev}:${info.ino}:${info.rdev}`;
    return {
      path,
      size,
      isBlockDevice,
      direct: direct !== undefined,
      async write(view, position) {
        const aligned = direct ? view.byteLength - (view.byteLength % DIRECT_ALIGN) : 0;
        if (aligned > 0) await writeFully(direct!, view.subarray(0, aligned), position);
        if (aligned < view.byteLength) await writeFully(buffered, view.subarray(aligned), position + aligned);
      },
      async read(view, position) {
        const { bytesRead } = await reader.read(view, 0, view.byteLength, position);
        return bytesRead;
      },
      probeAlignment(view) {
        try {
          readSync(reader.fd, view, 0, DIRECT_ALIGN, 0);
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
        const now = await stat(path).catch(() => undefined);
        const handleInfo = await buffered.stat();
        if (!now || `${now.dev}:${now.ino}:${now.rdev}` !== identity || handleInfo.nlink === 0) {
          throw new IngotError('INGOT_IMAGE_WRITE', { details: `image target ${path} disappeared while the image was being written` });
        }
      },
      async close() {
        await Promise.allSettled(handles.map((handle) => handle.close()));
      },
    };
  } catch (error) {
    await Promise.allSettled(handles.map((handle) => handle.close()));
    throw new IngotError('INGOT_IMAGE_WRITE', { details: `cannot open image target ${path} for writing: ${(error as Error).message}`, cause: error });
  }
}

async function writeFully(handle: FileHandle, view: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < view.byteLength) {
    const { bytesWritten } = await handle.write(view, done, view.byteLength - done, position + done);
    if (bytesWritten <= 0) throw new Error(`short write at offset ${position + done}`);
    done += bytesWritten;
  }
}
