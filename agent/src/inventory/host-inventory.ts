import { hostname as osHostname } from 'node:os';
import type { System } from '../system/system.ts';
import type { BlockDevices } from '../disks/block-devices.ts';
import type { BootInfo, CpuInfo, Inventory, InventorySource, MemoryInfo, SystemVendor } from './inventory.ts';
import { lscpuArgv, parseCpuinfoFlags, parseLscpu } from './cpu.ts';
import { parseMeminfoTotal, parseMemoryBlocks } from './memory.ts';
import { readDiskInfos } from './disk-info.ts';
import { readHostInterfaces, readHostMacs, readOptional } from './host-interfaces.ts';

export interface HostInventoryOptions {
  system: System;
  devices: Pick<BlockDevices, 'listDisks'>;
  /** Kernel command-line parameters as the config parsed them; `BOOTIF` becomes `boot.pxe_interface`. */
  kernelParams?: Readonly<Record<string, string | undefined>>;
  /** Defaults to the OS hostname (6.2: `socket.gethostname()`). */
  hostname?: () => string;
}

/**
 * The inventory of the machine the agent runs on, for inside the ramdisk.
 * Interfaces, CPU and memory size are required facts and a failure to read
 * them fails the collection; vendor strings, installed memory and per-NIC
 * details are best effort and fall back to null. No BMC is probed (no
 * ipmitool), so `bmc_address` is null as IPA reports without /dev/ipmi*.
 */
export function createHostInventory(options: HostInventoryOptions): InventorySource {
  const { system, devices } = options;
  const hostname = options.hostname ?? osHostname;
  return {
    lookupMacs: () => readHostMacs(system),
    async collect(): Promise<Inventory> {
      const [interfaces, cpu, memory, disks, systemVendor, boot] = await Promise.all([
        readHostInterfaces(system),
        readCpu(system),
        readMemory(system),
        readDiskInfos(devices),
        readSystemVendor(system),
        readBoot(system, options.kernelParams),
      ]);
      return {
        interfaces,
        cpu,
        disks,
        memory,
        bmc_address: null,
        bmc_v6address: null,
        system_vendor: systemVendor,
        boot,
        hostname: hostname(),
      };
    },
  };
}

async function readCpu(system: System): Promise<CpuInfo> {
  const cpu = parseLscpu((await system.run(lscpuArgv)).stdout);
  if (cpu.flags.length > 0) return cpu;
  const cpuinfo = await readOptional(system, '/proc/cpuinfo');
  return { ...cpu, flags: cpuinfo === null ? [] : parseCpuinfoFlags(cpuinfo) };
}

async function readMemory(system: System): Promise<MemoryInfo> {
  const total = parseMeminfoTotal(await system.readText('/proc/meminfo'));
  let physical: number | null = null;
  try {
    const root = '/sys/devices/system/memory';
    physical = parseMemoryBlocks(await system.listDir(root), await system.readText(`${root}/block_size_bytes`));
  } catch {
    // No memory-block sysfs (e.g. kernels without memory hotplug): installed size unknown.
  }
  return { total, physical_mb: physical };
}

/** DMI strings; `product_serial` is readable by root only, which the agent is inside its ramdisk. */
async function readSystemVendor(system: System): Promise<SystemVendor> {
  const dmi = async (name: string): Promise<string | null> =>
    (await readOptional(system, `/sys/class/dmi/id/${name}`))?.trim() || null;
  const [productName, serial, manufacturer, biosVendor, biosVersion, biosDate] = await Promise.all(
    ['product_name', 'product_serial', 'sys_vendor', 'bios_vendor', 'bios_version', 'bios_date'].map(dmi),
  );
  return {
    product_name: productName ?? null,
    serial_number: serial ?? null,
    manufacturer: manufacturer ?? null,
    firmware: { vendor: biosVendor ?? null, version: biosVersion ?? null, build_date: biosDate ?? null },
  };
}

async function readBoot(system: System, kernelParams: HostInventoryOptions['kernelParams']): Promise<BootInfo> {
  return {
    current_boot_mode: (await system.exists('/sys/firmware/efi')) ? 'uefi' : 'bios',
    pxe_interface: kernelParams?.BOOTIF ?? null,
  };
}
