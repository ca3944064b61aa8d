import type { System } from '../system/system.ts';
import { flattenLsblk, lsblkArgv, parseLsblk } from '../tools/lsblk.ts';

/**
 * Finding virtual-media configuration devices (reference 10.3). There is no
 * udev in the ramdisk, so lsblk's LABEL column is empty and /dev/disk/by-label
 * does not exist: `blkid` probes the devices itself.
 */
export type ConfigDeviceRole = 'parameters' | 'config-drive';

export interface ConfigDevice {
  device: string;
  label: string;
  /** Filesystem type as blkid reports it (iso9660, vfat). */
  fstype: string | undefined;
  role: ConfigDeviceRole;
}

export interface IgnoredDevice {
  device: string;
  label: string;
  reason: string;
}

/** `blkid -o export` of every device: blocks of KEY=value lines separated by blank lines. */
export const blkidExportArgv = ['blkid', '-o', 'export'] as const;

export function parseBlkidExport(stdout: string): Array<Record<string, string>> {
  return stdout.split(/\n\s*\n/).map((block) => {
    const entry: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const at = line.indexOf('=');
      if (at > 0) entry[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    return entry;
  }).filter((entry) => entry.DEVNAME);
}

/**
 * The role of a label. IPA matches `ir-vfd-dev` case-insensitively and looks
 * for `config-2` and `vmedia_boot_iso` with `blkid -L` (exact case); mkfs.fat
 * upper-cases labels, so Ingot matches every label case-insensitively.
 */
export function configDeviceRole(label: string): ConfigDeviceRole | undefined {
  const lower = label.toLowerCase();
  if (lower === 'ir-vfd-dev') return 'parameters';
  if (lower === 'config-2' || lower === 'vmedia_boot_iso') return 'config-drive';
  return undefined;
}

/** IPA's plausibility limit for a USB stick that carries configuration. */
const USB_CONFIG_MAX_BYTES = 4 * 1024 ** 3;

/**
 * Whether a labelled device can be virtual media rather than a disk of the
 * machine: an instance deployed earlier keeps a `config-2` partition on its
 * root disk, and that must never configure the ramdisk. As IPA does, accept a
 * CD-ROM (`rom`), a USB disk under 4 GiB or a disk whose model says "virtual
 * media"; never a partition.
 */
export function virtualMediaVerdict(info: { type: string; tran: string | null; size: number; model: string | null }): string | undefined {
  if (info.type === 'rom') return undefined;
  if (info.type === 'disk' && info.tran === 'usb' && info.size < USB_CONFIG_MAX_BYTES) return undefined;
  if (info.type === 'disk' && /virtual\s*media/i.test(info.model ?? '')) return undefined;
  if (info.type === 'part') return 'a partition (an installed system\'s config drive, not virtual media)';
  return `a ${info.tran ?? 'local'} ${info.type} of ${info.size} bytes, not a CD-ROM, a USB stick under 4 GiB or a "virtual media" device`;
}

/** The labelled configuration devices of this machine, and those refused as implausible. */
export async function findConfigDevices(system: System): Promise<{ devices: ConfigDevice[]; ignored: IgnoredDevice[] }> {
  // blkid exits 2 when it finds no labelled device at all.
  const { stdout, exitCode } = await system.run(blkidExportArgv, { allowFailure: true, timeoutMs: 30_000 });
  if (exitCode !== 0 && exitCode !== 2) return { devices: [], ignored: [] };
  const candidates = parseBlkidExport(stdout).flatMap((entry) => {
    const role = configDeviceRole(entry.LABEL ?? '');
    return role ? [{ device: entry.DEVNAME!, label: entry.LABEL!, fstype: entry.TYPE, role }] : [];
  });
  if (candidates.length === 0) return { devices: [], ignored: [] };
  const listed = flattenLsblk(parseLsblk((await system.run(lsblkArgv(candidates.map((candidate) => candidate.device)))).stdout));
  const devices: ConfigDevice[] = [];
  const ignored: IgnoredDevice[] = [];
  for (const candidate of candidates) {
    const info = listed.find((device) => device.kname === candidate.device || device.name === candidate.device);
    const reason = info ? virtualMediaVerdict(info) : 'not listed by lsblk';
    if (reason) ignored.push({ device: candidate.device, label: candidate.label, reason });
    else devices.push(candidate);
  }
  return { devices, ignored };
}
