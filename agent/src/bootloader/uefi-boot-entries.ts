import { IngotError } from '@ingot/protocol';
import type { Logger } from 'pino';
import type { BlockDevice } from '../disks/block-devices.ts';
import type { System } from '../system/system.ts';
import { efibootmgrCreateArgv, efibootmgrDeleteArgv, efibootmgrListArgv, parseEfibootmgr } from '../tools/efibootmgr.ts';
import { parseBootCsv, textOfBootCsv } from './boot-csv.ts';
import type { FoundPartition } from './find-partitions.ts';
import { createMountStack } from './mounts.ts';

/** Loaders IPA registers when no BOOT*.CSV names one (its BOOTLOADERS_EFI, plus the other removable-media names). */
export const KNOWN_EFI_LOADERS = ['bootx64.efi', 'bootaa64.efi', 'bootia32.efi', 'grubaa64.efi', 'winload.efi'] as const;

export interface EfiLoader {
  /** The UEFI path on the ESP, with backslashes: `\EFI\BOOT\BOOTX64.EFI`. */
  path: string;
  /** From the CSV; null means IPA's `ironic<N>`. */
  label: string | null;
}

/**
 * The loaders on a mounted ESP (9.9 step 2), looking into each `EFI/<dir>/`:
 * any `BOOT*.CSV` wins and gives loader and label; otherwise every known
 * loader file found by name, case-insensitively as FAT is.
 */
export async function findEfiLoaders(system: System, espRoot: string): Promise<EfiLoader[]> {
  const efiDir = (await system.listDir(espRoot)).find((name) => name.toLowerCase() === 'efi');
  if (!efiDir) return [];
  const fromCsv: EfiLoader[] = [];
  const byName: EfiLoader[] = [];
  for (const vendor of (await system.listDir(`${espRoot}/${efiDir}`)).sort()) {
    const files = await system.listDir(`${espRoot}/${efiDir}/${vendor}`).catch(() => [] as string[]);
    for (const file of files.sort()) {
      if (/^boot.*\.csv$/i.test(file)) {
        const entries = parseBootCsv(textOfBootCsv(await system.readText(`${espRoot}/${efiDir}/${vendor}/${file}`)));
        for (const entry of entries) fromCsv.push({ path: `\\${efiDir}\\${vendor}\\${entry.loader}`, label: entry.label });
      } else if ((KNOWN_EFI_LOADERS as readonly string[]).includes(file.toLowerCase())) {
        byName.push({ path: `\\${efiDir}\\${vendor}\\${file}`, label: null });
      }
    }
  }
  return fromCsv.length > 0 ? fromCsv : byName;
}

/**
 * IPA's `manage_uefi` (9.9 step 1): mounts the ESP, finds its loaders, and for
 * each deletes the NVRAM entries with the same label and adds a new one
 * (`efibootmgr -c -d <disk> -p <n> -w -L <label> -l <loader>`). Returns the
 * labels added; none when the ESP holds no loader (then GRUB may still run).
 */
export async function registerUefiBootEntries(system: System, disk: BlockDevice, esp: FoundPartition, log: Logger): Promise<string[]> {
  const mounts = createMountStack(system, log);
  let loaders: EfiLoader[];
  try {
    const espRoot = await mounts.mountDevice(esp.node, 'vfat');
    loaders = await findEfiLoaders(system, espRoot);
  } finally {
    await mounts.release();
  }
  if (loaders.length === 0) {
    log.warn({ esp: esp.node }, 'the EFI system partition holds no known EFI loader and no BOOT*.CSV');
    return [];
  }
  const labelled = loaders.map((loader, index) => ({ ...loader, label: loader.label ?? `ironic${index + 1}` }));
  const existing = parseEfibootmgr((await system.run(efibootmgrListArgv())).stdout);
  for (const entry of existing.filter((e) => labelled.some((l) => l.label === e.label))) {
    log.info({ entry: entry.number, label: entry.label }, 'deleting the UEFI boot entry of the same label');
    await system.run(efibootmgrDeleteArgv(entry.number));
  }
  for (const loader of labelled) {
    const result = await system.run(efibootmgrCreateArgv({ disk: disk.name, partition: esp.number, label: loader.label, loader: loader.path }), { allowFailure: true });
    if (result.exitCode !== 0) {
      throw new IngotError('INGOT_BOOTLOADER_FAILED', { details: `efibootmgr could not add the boot entry ${loader.label} for ${loader.path} on ${esp.node}: ${result.stderr.trim() || result.stdout.trim()}` });
    }
    log.info({ label: loader.label, loader: loader.path, esp: esp.node }, 'UEFI boot entry added');
  }
  return labelled.map((l) => l.label);
}
