import { hostname as osHostname } from 'node:os';
import { IngotError } from '@ingot/protocol';
import type { System } from '../system/system.ts';
import type { BlockDevices } from '../disks/block-devices.ts';
import type { Inventory, InventorySource } from './inventory.ts';
import { parseMachineFile } from './machine-file.ts';
import { readDiskInfos } from './disk-info.ts';

export interface MachineFileInventoryOptions {
  /** JSON file describing the simulated machine (see parseMachineFile for the fields and defaults). */
  path: string;
  /** The disks the agent was given; the inventory lists exactly these. */
  devices: Pick<BlockDevices, 'listDisks'>;
  /** Reads the file: the System is the agent's one door to the host. */
  system: Pick<System, 'readText'>;
  /** Hostname when the file names none; defaults to the OS hostname. */
  hostname?: () => string;
}

/**
 * The inventory of a simulated machine, for running outside the ramdisk.
 * The file is read on every collect so an edit shows up at the next lookup
 * or inspection; callers that want IPA's cache-the-first-result behaviour (6.1)
 * keep the first result themselves.
 */
export function createMachineFileInventory(options: MachineFileInventoryOptions): InventorySource {
  const { path, devices, system } = options;
  const hostname = options.hostname ?? osHostname;
  return {
    async collect(): Promise<Inventory> {
      let text: string;
      try {
        text = await system.readText(path);
      } catch (error) {
        throw new IngotError('INGOT_CONFIG_INVALID', {
          details: `machine file ${path} cannot be read: ${(error as Error).message}`,
          cause: error,
        });
      }
      const machine = parseMachineFile(text, path, hostname());
      const disks = await readDiskInfos(devices);
      return { ...machine, disks };
    },
  };
}
