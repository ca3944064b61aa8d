import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './exec.ts';
import { renderGrubConfig } from './grub.ts';

/**
 * A hybrid ISO for BMC virtual media and USB sticks: GRUB for BIOS (El Torito
 * and MBR) and UEFI (an EFI system partition image), both reading the same
 * grub.cfg, which boots the kernel and initramfs with the given command line.
 */
export async function makeIso(options: { vmlinuz: string; initramfs: string; kernelAppend: string; workDir: string; output: string; sourceDateEpoch: number; signal?: AbortSignal }): Promise<void> {
  // grub-mkrescue's own temporary directories (grub.XXXXXX) go to `temporary`, not to /tmp: a killed build would leave them there.
  const [tree, temporary] = isoStagingDirs(options.workDir) as [string, string];
  await removeIsoStaging(options.workDir);
  await mkdir(join(tree, 'boot', 'grub'), { recursive: true });
  await mkdir(temporary, { recursive: true });
  await copyFile(options.vmlinuz, join(tree, 'boot', 'vmlinuz'));
  await copyFile(options.initramfs, join(tree, 'boot', 'initramfs.cpio.zst'));
  await writeFile(join(tree, 'boot', 'grub', 'grub.cfg'), renderGrubConfig({ kernelAppend: options.kernelAppend }));
  // xorriso honours SOURCE_DATE_EPOCH for the ISO's own timestamps.
  await run(['grub-mkrescue', '-o', options.output, tree, '--', '-volid', 'INGOT_RAMDISK'], {
    env: { ...process.env, SOURCE_DATE_EPOCH: String(options.sourceDateEpoch), TMPDIR: temporary },
    signal: options.signal,
  });
  await removeIsoStaging(options.workDir);
}

/** The ISO's tree and grub-mkrescue's temporary directory under the work directory. */
function isoStagingDirs(workDir: string): string[] {
  return [join(workDir, 'iso'), join(workDir, 'iso-tmp')];
}

/** Removes what makeIso stages: after the ISO is built, and after a failed or interrupted build. */
export async function removeIsoStaging(workDir: string): Promise<void> {
  for (const dir of isoStagingDirs(workDir)) await rm(dir, { recursive: true, force: true });
}
