import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';

const MiB = 1024 * 1024;

export interface UefiWholeDiskImage {
  path: string;
  size: number;
  sha256: string;
  /** What EFI/BOOT/BOOTX64.EFI holds in the image's ESP (random: no other run's disk can pass for it). */
  loader: Buffer;
  /** The ESP's FAT volume id as blkid shows it (`ABCD-1234`): a block copy keeps it. */
  espUuid: string;
}

/**
 * A whole-disk image as a UEFI cloud image is laid out: GPT, an ESP (vfat,
 * with a removable-media loader EFI/BOOT/BOOTX64.EFI) and an ext4 root.
 * Built with sgdisk, mkfs.vfat and mtools, without mounting anything.
 * The loader is random bytes, not a program: what is proven with it is where
 * the agent puts the ESP, not that firmware runs it.
 */
export function createUefiWholeDiskImage(file: string, options: { sizeMiB: number; espMiB: number }): UefiWholeDiskImage {
  const { sizeMiB, espMiB } = options;
  writeFileSync(file, '');
  truncateSync(file, sizeMiB * MiB);
  const espEnd = 2048 + espMiB * 2048 - 1;
  execFileSync('sgdisk', ['-n', `1:2048:${espEnd}`, '-t', '1:EF00', '-c', '1:EFI', '-n', `2:${espEnd + 1}:0`, '-t', '2:8300', '-c', '2:root', file], { stdio: 'ignore' });
  const esp = `${file}.esp`;
  rmSync(esp, { force: true });
  execFileSync('mkfs.vfat', ['-C', '-n', 'EFI', esp, String(espMiB * 1024)], { stdio: 'ignore' });
  const loader = randomBytes(64 * 1024);
  const loaderFile = `${file}.loader`;
  writeFileSync(loaderFile, loader);
  execFileSync('mmd', ['-i', esp, '::EFI', '::EFI/BOOT']);
  execFileSync('mcopy', ['-i', esp, loaderFile, '::EFI/BOOT/BOOTX64.EFI']);
  execFileSync('dd', [`if=${esp}`, `of=${file}`, 'bs=1M', `seek=1`, 'conv=notrunc'], { stdio: 'ignore' });
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'root', '-E', `offset=${(espEnd + 1) * 512}`, file, `${(sizeMiB - espMiB - 2) * 1024}k`], { stdio: 'ignore' });
  const espUuid = execFileSync('blkid', ['-o', 'value', '-s', 'UUID', esp], { encoding: 'utf8' }).trim();
  rmSync(esp, { force: true });
  rmSync(loaderFile, { force: true });
  const bytes = readFileSync(file);
  return { path: file, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), loader, espUuid };
}
