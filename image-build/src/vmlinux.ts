import { open, readFile, rm, writeFile } from 'node:fs/promises';
import { run } from './exec.ts';

/**
 * The uncompressed kernel for virtual machines. A bzImage starts in real
 * mode, behind the firmware, and first decompresses itself: under QEMU's
 * emulation (TCG) that costs seconds before the kernel's clock even starts
 * (ramdisk-feasibility.md). QEMU boots the ELF `vmlinux` inside it directly
 * through its PVH entry point (`-kernel vmlinux`), skipping both. Real
 * servers keep booting `vmlinuz`, where decompression takes milliseconds.
 */

/** Where the compressed kernel sits in a bzImage, from its setup header (Linux boot protocol 2.08+). */
export interface BzImagePayload {
  offset: number;
  length: number;
  format: 'xz' | 'gzip' | 'zstd' | 'unknown';
}

export function locateBzImagePayload(head: Uint8Array): BzImagePayload {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const fail = (why: string): never => { throw new Error(`not a bzImage this build can unpack: ${why}`); };
  if (head.byteLength < 0x250) fail('shorter than its setup header');
  if (view.getUint32(0x202, true) !== 0x53726448) fail('no "HdrS" setup header magic at 0x202');
  const protocol = view.getUint16(0x206, true);
  if (protocol < 0x208) fail(`boot protocol ${protocol >> 8}.${protocol & 0xff} has no payload fields (2.08 or later needed)`);
  // setup_sects of 0 means 4, for historical reasons; the protected-mode code follows the setup sectors and the boot sector.
  const setupSectors = view.getUint8(0x1f1) || 4;
  const offset = (setupSectors + 1) * 512 + view.getUint32(0x248, true);
  const length = view.getUint32(0x24c, true);
  return { offset, length, format: payloadFormat(head, offset) };
}

function payloadFormat(head: Uint8Array, offset: number): BzImagePayload['format'] {
  const at = (bytes: number[]) => offset + bytes.length <= head.byteLength && bytes.every((byte, i) => head[offset + i] === byte);
  if (at([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz';
  if (at([0x1f, 0x8b])) return 'gzip';
  if (at([0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  return 'unknown';
}

/** XEN_ELFNOTE_PHYS32_ENTRY: the PVH entry point QEMU's `-kernel` looks for in an ELF kernel. */
const PVH_NOTE_TYPE = 0x12;

/** Whether `readelf -n` lists the Xen PVH entry note. */
export function hasPvhEntryNote(readelfNotes: string): boolean {
  const hex = PVH_NOTE_TYPE.toString(16).padStart(8, '0');
  return readelfNotes.split('\n').some((line) => /^\s*Xen\s/.test(line) && line.includes(`(0x${hex})`));
}

/**
 * Writes `output` as the ELF kernel inside `vmlinuz`, or returns false (and
 * leaves no `output`) when the kernel has no PVH entry, as QEMU could not
 * boot it directly, or its payload is neither xz nor gzip. The bytes are whatever the kernel package built, decompressed.
 */
export async function extractVmlinux(vmlinuz: string, output: string): Promise<boolean> {
  await rm(output, { force: true });
  const image = await readFile(vmlinuz);
  const payload = locateBzImagePayload(image);
  if (payload.format !== 'xz' && payload.format !== 'gzip') return false;
  const compressed = `${output}.payload`;
  await writeFile(compressed, image.subarray(payload.offset, payload.offset + payload.length));
  const handle = await open(output, 'w');
  try {
    // The payload ends with its uncompressed size (4 bytes), which --single-stream / gzip -q ignore.
    await run(payload.format === 'xz' ? ['xz', '-dc', '--single-stream', compressed] : ['gzip', '-dcq', compressed], { stdoutFd: handle.fd }).catch((error: unknown) => {
      // gzip exits 2 on trailing garbage (a warning), having written everything.
      if (payload.format === 'gzip' && (error as { exitCode?: number }).exitCode === 2) return '';
      throw error;
    });
  } finally {
    await handle.close();
    await rm(compressed, { force: true });
  }
  if (!hasPvhEntryNote(await run(['readelf', '-n', output]))) {
    await rm(output, { force: true });
    return false;
  }
  return true;
}
