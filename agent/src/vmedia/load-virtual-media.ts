import { IngotError } from '@ingot/protocol';
import type { System } from '../system/system.ts';
import { findConfigDevices, type ConfigDevice, type IgnoredDevice } from './config-devices.ts';
import { parseParametersFile } from './parameters-file.ts';

/** Where configuration devices are mounted, one directory per device, read-only and only while being read. */
export const VMEDIA_MOUNT_ROOT = '/run/ingot/vmedia';
/** Where what outlives the mount is copied (the agent's state directory in the ramdisk). */
export const VMEDIA_COPY_DIR = '/run/ingot';

/** Files read from a config drive (`config-2` / `vmedia_boot_iso`), relative to its root. */
export const configDriveFiles = {
  networkData: 'openstack/latest/network_data.json',
  /** The CA Ironic injects for the agent to trust (reference 10.3): becomes ipa-ca-file. */
  ca: 'etc/ironic-python-agent/ironic.crt',
  /** Ingot's own parameters, merged like parameters.txt. */
  parameters: 'etc/ingot/parameters.txt',
} as const;

/** On an `ir-vfd-dev` device, in its root (reference 10.3). */
export const PARAMETERS_FILE = 'parameters.txt';

export interface VirtualMedia {
  /** The kernel command line with the virtual-media parameters merged over it (virtual media wins). */
  params: Record<string, string>;
  /** Whether any configuration device was found: then the ramdisk's /init did not run DHCP. */
  found: boolean;
  /** network_data.json, when a config drive carries one, and where it came from (for errors). */
  networkData: { text: string; source: string } | undefined;
  /** What was found and applied, for the log: parameter names only, never their values. */
  report: {
    devices: Array<{ device: string; label: string; role: ConfigDevice['role']; files: string[] }>;
    ignored: IgnoredDevice[];
    parameterNames: string[];
    skippedWords: string[];
    caFile: string | undefined;
  };
}

/**
 * Reads the virtual-media configuration devices of the machine, as IPA's
 * `get_agent_params` and `copy_config_from_vmedia` do (10.3), before the
 * configuration is resolved. Only ever called inside the ramdisk: it mounts
 * devices. Each device is mounted read-only, read, and unmounted again.
 */
export async function loadVirtualMedia(options: { system: System; kernel: Record<string, string> }): Promise<VirtualMedia> {
  const { system, kernel } = options;
  const { devices, ignored } = await findConfigDevices(system);
  const report: VirtualMedia['report'] = { devices: [], ignored, parameterNames: [], skippedWords: [], caFile: undefined };
  const fromParametersDevices: Record<string, string> = {};
  const fromConfigDrives: Record<string, string> = {};
  let networkData: VirtualMedia['networkData'];
  let caFile: string | undefined;

  // ir-vfd-dev first, config drives second: Ingot's own parameters.txt has the last word.
  const ordered = [...devices.filter((d) => d.role === 'parameters'), ...devices.filter((d) => d.role === 'config-drive')];
  for (const device of ordered) {
    const files = await withMountedDevice(system, device, async (root) => {
      const read: string[] = [];
      const readIfPresent = async (relative: string) => {
        const path = `${root}/${relative}`;
        if (!(await system.exists(path))) return undefined;
        read.push(relative);
        return system.readText(path);
      };
      if (device.role === 'parameters') {
        const text = await readIfPresent(PARAMETERS_FILE);
        if (text === undefined) throw new IngotError('INGOT_CONFIG_INVALID', { details: `${device.device} (label ${device.label}) holds no ${PARAMETERS_FILE} in its root` });
        mergeParameters(fromParametersDevices, text);
        return read;
      }
      const parameters = await readIfPresent(configDriveFiles.parameters);
      if (parameters !== undefined) mergeParameters(fromConfigDrives, parameters);
      const network = await readIfPresent(configDriveFiles.networkData);
      if (network !== undefined && networkData === undefined) networkData = { text: network, source: `${device.device} (label ${device.label}): ${configDriveFiles.networkData}` };
      if (await system.exists(`${root}/${configDriveFiles.ca}`)) {
        const text = await readIfPresent(configDriveFiles.ca);
        if (!text?.includes('-----BEGIN CERTIFICATE-----')) throw new IngotError('INGOT_CONFIG_INVALID', { details: `${device.device} (label ${device.label}): ${configDriveFiles.ca} holds no PEM certificate` });
        caFile ??= `${VMEDIA_COPY_DIR}/ironic.crt`;
        await system.run(['cp', `${root}/${configDriveFiles.ca}`, caFile]);
      }
      return read;
    });
    report.devices.push({ device: device.device, label: device.label, role: device.role, files });
  }

  function mergeParameters(into: Record<string, string>, text: string) {
    const { params, skipped } = parseParametersFile(text);
    Object.assign(into, params);
    report.skippedWords.push(...skipped);
  }

  const params = { ...kernel, ...fromParametersDevices, ...fromConfigDrives };
  // An explicitly configured CA file wins over the one on the config drive.
  if (caFile && params['ipa-ca-file'] === undefined) params['ipa-ca-file'] = caFile;
  report.caFile = params['ipa-ca-file'] === caFile ? caFile : undefined;
  report.parameterNames = Object.keys({ ...fromParametersDevices, ...fromConfigDrives }).sort();
  return { params, found: devices.length > 0, networkData, report };
}

/** Mounts a device read-only under VMEDIA_MOUNT_ROOT, runs `work`, and always unmounts it. */
async function withMountedDevice<T>(system: System, device: ConfigDevice, work: (root: string) => Promise<T>): Promise<T> {
  const mountPoint = `${VMEDIA_MOUNT_ROOT}/${device.device.split('/').pop()}`;
  await system.run(['mkdir', '-p', mountPoint]);
  // A previous run of the agent may have died with the device mounted.
  const mounts = await system.readText('/proc/mounts').catch(() => '');
  if (mounts.split('\n').some((line) => line.split(' ')[1] === mountPoint)) await system.run(['umount', mountPoint], { allowFailure: true });
  const type = device.fstype === 'iso9660' || device.fstype === 'vfat' ? ['-t', device.fstype] : [];
  try {
    await system.run(['mount', ...type, '-o', 'ro', device.device, mountPoint], { timeoutMs: 30_000 });
  } catch (error) {
    throw new IngotError('INGOT_CONFIG_INVALID', {
      details: `cannot mount ${device.device} (label ${device.label}, ${device.fstype ?? 'unknown filesystem'}) read-only at ${mountPoint}: ${(error as Error).message}`,
      cause: error,
    });
  }
  try {
    return await work(mountPoint);
  } finally {
    await system.run(['umount', mountPoint], { allowFailure: true, timeoutMs: 30_000 });
  }
}
