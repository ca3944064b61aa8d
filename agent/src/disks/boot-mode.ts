import { parseStrictBool, type NodeInfo } from '@ingot/protocol';
import type { BootMode, DiskLabel } from './partition-layout.ts';

/**
 * Ironic's capabilities: a dict, or the string `boot_mode:uefi,secure_boot:true`
 * (properties.capabilities is usually the string form).
 */
export function parseCapabilities(value: unknown): Record<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, v]) => [key, String(v)]));
  }
  if (typeof value !== 'string') return {};
  return Object.fromEntries(value.split(',').map((pair) => pair.split(':')).filter((pair) => pair.length === 2 && pair[0]!.trim() !== '').map(([key, v]) => [key!.trim(), v!.trim()]));
}

function bootModeValue(value: unknown): BootMode | null {
  return value === 'uefi' || value === 'bios' ? value : null;
}

/**
 * The boot mode a partition image is laid out for (9.1): from the cached
 * node, not image_info — `secure_boot` forces uefi, then instance_info's
 * `deploy_boot_mode`, then the `boot_mode` capability (instance_info, then
 * properties), then image_info's `deploy_boot_mode`, then how this ramdisk booted.
 */
export function chooseBootMode(node: NodeInfo, info: { deployBootMode: BootMode | null }, ramdiskMode: BootMode): BootMode {
  const instance = (node.instance_info ?? {}) as Record<string, unknown>;
  const instanceCaps = parseCapabilities(instance.capabilities);
  const propertyCaps = parseCapabilities(((node.properties ?? {}) as Record<string, unknown>).capabilities);
  if (parseStrictBool(instanceCaps.secure_boot ?? propertyCaps.secure_boot ?? false) === true) return 'uefi';
  return bootModeValue(instance.deploy_boot_mode)
    ?? bootModeValue(instanceCaps.boot_mode)
    ?? bootModeValue(propertyCaps.boot_mode)
    ?? info.deployBootMode
    ?? ramdiskMode;
}

/** The `disk_label` capability (instance_info, then properties), else image_info's, else the layout's default. */
export function chooseDiskLabel(node: NodeInfo, info: { diskLabel: DiskLabel | null }): DiskLabel | null {
  const instanceCaps = parseCapabilities(((node.instance_info ?? {}) as Record<string, unknown>).capabilities);
  const propertyCaps = parseCapabilities(((node.properties ?? {}) as Record<string, unknown>).capabilities);
  const label = instanceCaps.disk_label ?? propertyCaps.disk_label ?? info.diskLabel;
  return label === 'gpt' || label === 'msdos' ? label : null;
}

/** How the ramdisk itself booted: Linux exposes /sys/firmware/efi only under UEFI. */
export async function readRamdiskBootMode(system: { exists(path: string): Promise<boolean> }): Promise<BootMode> {
  return (await system.exists('/sys/firmware/efi')) ? 'uefi' : 'bios';
}
