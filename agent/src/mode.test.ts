import { describe, expect, it } from 'vitest';
import { detectRamdisk, RAMDISK_MARKER } from './mode.ts';
import { createFakeSystem } from './testing.ts';

const mounts = (rootType: string) => `${rootType === 'ext4' ? '/dev/vda1' : 'none'} / ${rootType} rw 0 0\nproc /proc proc rw 0 0\n`;

describe('detectRamdisk', () => {
  it('recognises the ramdisk only with the marker and an initramfs root', async () => {
    expect(await detectRamdisk(createFakeSystem({ files: { [RAMDISK_MARKER]: '', '/proc/mounts': mounts('rootfs') } }))).toBe(true);
    expect(await detectRamdisk(createFakeSystem({ files: { [RAMDISK_MARKER]: '', '/proc/mounts': mounts('tmpfs') } }))).toBe(true);
  });

  it('stays in sandbox mode on an installed system even if someone created the marker', async () => {
    expect(await detectRamdisk(createFakeSystem({ files: { [RAMDISK_MARKER]: '', '/proc/mounts': mounts('ext4') } }))).toBe(false);
    expect(await detectRamdisk(createFakeSystem({ files: { '/proc/mounts': mounts('rootfs') } }))).toBe(false);
  });
});
