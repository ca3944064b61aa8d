import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { FileStat, RunResult, System } from '../system/system.ts';
import { createFakeSystem } from '../testing.ts';
import type { BlockDevice } from '../disks/block-devices.ts';
import { createHostInventory } from './host-inventory.ts';
import { macAddresses } from './inventory.ts';
import { parsePciAddress, parseSpeed, parseUevent } from './host-interfaces.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

interface HostSpec {
  files: Record<string, string>;
  dirs: Record<string, string[]>;
  commands: Record<string, string>;
}

/** Answers by argv and path, never by call order; anything unexpected throws. */
function fakeSystem(spec: HostSpec): System {
  const missing = (path: string) => Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
  const unexpected = (what: string) => { throw new Error(`unexpected ${what} in this test`); };
  return {
    ...createFakeSystem(), // devices, processes and writes as the plain fake has them (devices and processes throw)
    async run(argv): Promise<RunResult> {
      const stdout = spec.commands[argv.join(' ')];
      if (stdout === undefined) return unexpected(`command: ${argv.join(' ')}`);
      return { argv, stdout, stderr: '', exitCode: 0 };
    },
    async hasTool(name) { return Object.keys(spec.commands).some((command) => command.split(' ')[0] === name); },
    async readText(path) {
      const text = spec.files[path];
      if (text === undefined) throw missing(path);
      return text;
    },
    async exists(path) { return path in spec.files || path in spec.dirs; },
    async listDir(path) {
      const names = spec.dirs[path];
      if (names === undefined) throw missing(path);
      return [...names];
    },
    async stat(path): Promise<FileStat> {
      if (path in spec.files) return { size: Buffer.byteLength(spec.files[path]!), isFile: true, isBlockDevice: false };
      if (path in spec.dirs) return { size: 0, isFile: false, isBlockDevice: false };
      throw missing(path);
    },
  };
}

/** This machine's captured outputs, with a virtio NIC (eth0), a PCI NIC that is down (eno2), lo and an ifb without a device. */
function machine(overrides: Partial<HostSpec> = {}): HostSpec {
  const net = '/sys/class/net';
  return {
    files: {
      [`${net}/eth0/address`]: '02:FC:00:00:00:01\n',
      [`${net}/eth0/carrier`]: '1\n',
      [`${net}/eth0/speed`]: '-1\n',
      [`${net}/eth0/device/uevent`]: 'DRIVER=virtio_net\nMODALIAS=virtio:d00000001v00001AF4\n',
      [`${net}/eth0/device/vendor`]: '0x1af4\n',
      [`${net}/eth0/device/device`]: '0x0001\n',
      [`${net}/eno2/address`]: '3c:ec:ef:00:11:22\n',
      [`${net}/eno2/device/uevent`]: 'DRIVER=igb\nPCI_CLASS=20000\nPCI_SLOT_NAME=0000:03:00.1\n',
      [`${net}/eno2/device/vendor`]: '0x8086\n',
      [`${net}/eno2/device/device`]: '0x1533\n',
      [`${net}/lo/address`]: '00:00:00:00:00:00\n',
      '/proc/meminfo': fixture('meminfo.txt'),
      '/sys/devices/system/memory/block_size_bytes': '8000000\n',
      ...overrides.files,
    },
    dirs: {
      [net]: ['lo', 'ifb0', 'eth0', 'eno2'],
      [`${net}/eth0/device`]: ['driver', 'uevent', 'vendor', 'device'],
      [`${net}/eno2/device`]: ['driver', 'uevent', 'vendor', 'device'],
      '/sys/devices/system/memory': ['block_size_bytes', 'memory0', 'memory1', 'memory2', 'memory3'],
      ...overrides.dirs,
    },
    commands: {
      'ip -j addr': fixture('ip-addr.json'),
      'lscpu -J': fixture('lscpu.json'),
      'readlink -f /sys/class/net/eth0/device': '/sys/devices/pci0000:00/0000:00:03.0/virtio2\n',
      ...overrides.commands,
    },
  };
}

const disk = (name: string, size: number): BlockDevice => ({
  name, type: 'disk', size, logicalSectorSize: 512, physicalSectorSize: 4096, rotational: false, readOnly: false,
  model: 'QEMU HARDDISK', vendor: 'QEMU', serial: 'QM00001', wwn: '0x5000c500a1b2c3d4', tran: 'sata', hctl: '0:0:0:0',
  byPath: '/dev/disk/by-path/pci-0000:00:1f.2-ata-1',
});
const devices = { listDisks: async () => [disk('/dev/sda', 10 * 2 ** 30), disk('/dev/sr0', 0)] };

describe('createHostInventory', () => {
  it('lists only interfaces with a device, with MAC, carrier, driver, PCI IDs, PCI address and addresses', async () => {
    const inventory = await createHostInventory({ system: fakeSystem(machine()), devices }).collect();
    expect(inventory.interfaces.map((nic) => nic.name)).toEqual(['eno2', 'eth0']);
    expect(inventory.interfaces[1]).toEqual({
      name: 'eth0', mac_address: '02:fc:00:00:00:01', ipv4_address: '192.0.2.2', ipv6_address: 'fd00::2',
      has_carrier: true, lldp: null, vendor: '0x1af4', product: '0x0001', client_id: null, biosdevname: null,
      speed_mbps: null, pci_address: '0000:00:03.0', driver: 'virtio_net',
    });
    expect(inventory.interfaces[0]).toMatchObject({
      name: 'eno2', has_carrier: false, pci_address: '0000:03:00.1', driver: 'igb', vendor: '0x8086', product: '0x1533',
      ipv4_address: null, ipv6_address: null,
    });
  });

  it('answers lookup\'s MACs from sysfs alone, the same as the full inventory gives, without running a tool', async () => {
    const spec = machine();
    const inventory = createHostInventory({ system: fakeSystem({ ...spec, commands: {} }), devices });
    expect(await inventory.lookupMacs!()).toEqual(['3c:ec:ef:00:11:22', '02:fc:00:00:00:01']);
    expect(await inventory.lookupMacs!()).toEqual(macAddresses(await createHostInventory({ system: fakeSystem(spec), devices }).collect()));
  });

  it('reads CPU from lscpu, memory from /proc/meminfo and memory blocks, and disks in IPA field names without zero-size ones', async () => {
    const inventory = await createHostInventory({ system: fakeSystem(machine()), devices }).collect();
    expect(inventory.cpu).toMatchObject({ model_name: 'AMD EPYC', count: 2, architecture: 'x86_64' });
    expect(inventory.memory).toEqual({ total: 24684096 * 1024, physical_mb: 512 });
    expect(inventory.disks).toEqual([{
      name: '/dev/sda', model: 'QEMU HARDDISK', size: 10 * 2 ** 30, rotational: false, wwn: '0x5000c500a1b2c3d4',
      serial: 'QM00001', vendor: 'QEMU', wwn_with_extension: '0x5000c500a1b2c3d4', wwn_vendor_extension: null,
      hctl: '0:0:0:0', by_path: '/dev/disk/by-path/pci-0000:00:1f.2-ata-1', logical_sectors: 512, physical_sectors: 4096, tran: 'sata',
    }]);
  });

  it('reports BIOS boot, no vendor strings and no BMC on a VM without EFI or DMI, and the hostname it is given', async () => {
    const inventory = await createHostInventory({ system: fakeSystem(machine()), devices, hostname: () => 'node-7' }).collect();
    expect(inventory.boot).toEqual({ current_boot_mode: 'bios', pxe_interface: null });
    expect(inventory.system_vendor).toEqual({
      product_name: null, serial_number: null, manufacturer: null, firmware: { vendor: null, version: null, build_date: null },
    });
    expect(inventory.bmc_address).toBeNull();
    expect(inventory.bmc_v6address).toBeNull();
    expect(inventory.hostname).toBe('node-7');
  });

  it('reports UEFI boot, the BOOTIF parameter as-is and DMI vendor strings when the host has them', async () => {
    const dmi = '/sys/class/dmi/id';
    const spec = machine({
      files: { [`${dmi}/product_name`]: 'PowerEdge R650\n', [`${dmi}/sys_vendor`]: 'Dell Inc.\n', [`${dmi}/product_serial`]: 'ABC1234\n',
        [`${dmi}/bios_vendor`]: 'Dell Inc.\n', [`${dmi}/bios_version`]: '1.6.5\n', [`${dmi}/bios_date`]: '04/19/2022\n' },
      dirs: { '/sys/firmware/efi': ['efivars'] },
    });
    const inventory = await createHostInventory({ system: fakeSystem(spec), devices, kernelParams: { BOOTIF: '01-02-fc-00-00-00-01' } }).collect();
    expect(inventory.boot).toEqual({ current_boot_mode: 'uefi', pxe_interface: '01-02-fc-00-00-00-01' });
    expect(inventory.system_vendor).toEqual({
      product_name: 'PowerEdge R650', serial_number: 'ABC1234', manufacturer: 'Dell Inc.',
      firmware: { vendor: 'Dell Inc.', version: '1.6.5', build_date: '04/19/2022' },
    });
  });

  it('still lists interfaces without addresses when ip fails, but fails when lscpu does', async () => {
    const noIp = machine();
    delete noIp.commands['ip -j addr'];
    const inventory = await createHostInventory({ system: fakeSystem(noIp), devices }).collect();
    expect(inventory.interfaces[1]).toMatchObject({ name: 'eth0', ipv4_address: null, mac_address: '02:fc:00:00:00:01' });

    const noLscpu = machine();
    delete noLscpu.commands['lscpu -J'];
    await expect(createHostInventory({ system: fakeSystem(noLscpu), devices }).collect()).rejects.toThrow(/lscpu -J/);
  });
});

describe('sysfs parsers', () => {
  it('parses uevent KEY=value lines', () => {
    expect(parseUevent('DRIVER=igb\nPCI_SLOT_NAME=0000:03:00.1\n')).toEqual(new Map([['DRIVER', 'igb'], ['PCI_SLOT_NAME', '0000:03:00.1']]));
  });

  it('takes the last PCI function of a resolved device path and nothing from a path without one', () => {
    expect(parsePciAddress('/sys/devices/pci0000:00/0000:00:1c.0/0000:03:00.1\n')).toBe('0000:03:00.1');
    expect(parsePciAddress('/sys/devices/platform/soc/fe300000.mmcnr')).toBeNull();
  });

  it('treats -1, zero and an unreadable speed as unknown', () => {
    expect(parseSpeed('1000\n')).toBe(1000);
    expect(parseSpeed('-1\n')).toBeNull();
    expect(parseSpeed(null)).toBeNull();
  });
});
