import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import type { BlockDevice } from '../disks/block-devices.ts';
import { createDeviceGuard } from '../system/device-guard.ts';
import { createRealSystem } from '../system/real-system.ts';
import { createMachineFileInventory } from './machine-file-inventory.ts';
import { macAddresses } from './inventory.ts';

const path = '/etc/ingot/machine.json';
const diskFile: BlockDevice = {
  name: '/var/lib/ingot/disk0.img', type: 'file', size: 2 ** 30, logicalSectorSize: 512, physicalSectorSize: 512,
  rotational: false, readOnly: false, model: null, vendor: null, serial: null, wwn: null, tran: null, hctl: null, byPath: null,
};
const devices = { listDisks: async () => [diskFile] };

/** Only readText is used: the file's text, or ENOENT for any other path. */
const systemWith = (text: string) => ({
  async readText(file: string) {
    if (file !== path) throw new Error(`ENOENT: no such file or directory, open '${file}'`);
    return text;
  },
});

const collect = (text: string) => createMachineFileInventory({ path, devices, system: systemWith(text), hostname: () => 'sim-1' }).collect();

async function configError(text: string): Promise<string> {
  const error: unknown = await collect(text).then(() => undefined, (caught: unknown) => caught);
  if (!isIngotError(error, 'INGOT_CONFIG_INVALID')) throw new Error(`expected INGOT_CONFIG_INVALID, got ${String(error)}`);
  return error.details;
}

describe('createMachineFileInventory', () => {
  it('fills every missing field of a file that names only one NIC with defaults, and lowercases its MAC', async () => {
    const inventory = await collect('{"interfaces":[{"name":"eth0","mac_address":"52:54:00:AB:CD:EF"}]}');
    expect(inventory).toEqual({
      interfaces: [{
        name: 'eth0', mac_address: '52:54:00:ab:cd:ef', ipv4_address: null, ipv6_address: null, has_carrier: true, lldp: null,
        vendor: null, product: null, client_id: null, biosdevname: null, speed_mbps: null, pci_address: null, driver: null,
      }],
      cpu: { model_name: 'Ingot simulated CPU', frequency: null, count: 1, architecture: 'x86_64', flags: [], socket_count: 1 },
      memory: { total: 4 * 2 ** 30, physical_mb: 4096 },
      disks: [expect.objectContaining({ name: '/var/lib/ingot/disk0.img', size: 2 ** 30, logical_sectors: 512, by_path: null })],
      bmc_address: null,
      bmc_v6address: null,
      system_vendor: { product_name: null, serial_number: null, manufacturer: null, firmware: { vendor: null, version: null, build_date: null } },
      boot: { current_boot_mode: 'uefi', pxe_interface: null },
      hostname: 'sim-1',
    });
  });

  it('keeps every field the file gives and takes disks only from the devices it was handed', async () => {
    const inventory = await collect(JSON.stringify({
      hostname: 'rack1-node3',
      interfaces: [
        { name: 'eno1', mac_address: '3c-ec-ef-00-11-22', ipv4_address: '192.0.2.10', ipv6_address: '2001:db8::10', has_carrier: true, speed_mbps: 10000, driver: 'ice' },
        { name: 'eno2', mac_address: '3c:ec:ef:00:11:23', has_carrier: false },
      ],
      cpu: { model_name: 'Xeon', frequency: 2400, count: 64, flags: ['vmx'], socket_count: 2 },
      memory: { total: 68719476736, physical_mb: 65536 },
      system_vendor: { manufacturer: 'Supermicro', firmware: { version: '2.1' } },
      boot: { current_boot_mode: 'bios', pxe_interface: '01-3c-ec-ef-00-11-22' },
      bmc_address: '192.0.2.200',
      bmc_mac: '3C:EC:EF:00:11:FF',
    }));
    expect(macAddresses(inventory)).toEqual(['3c:ec:ef:00:11:22', '3c:ec:ef:00:11:23']);
    expect(inventory.interfaces[0]).toMatchObject({ ipv4_address: '192.0.2.10', ipv6_address: '2001:db8::10', speed_mbps: 10000, driver: 'ice' });
    expect(inventory.cpu).toEqual({ model_name: 'Xeon', frequency: '2400', count: 64, architecture: 'x86_64', flags: ['vmx'], socket_count: 2 });
    expect(inventory.system_vendor).toMatchObject({ manufacturer: 'Supermicro', firmware: { vendor: null, version: '2.1', build_date: null } });
    expect(inventory.boot.current_boot_mode).toBe('bios');
    expect(inventory).toMatchObject({ hostname: 'rack1-node3', bmc_address: '192.0.2.200', bmc_mac: '3c:ec:ef:00:11:ff' });
    expect(inventory.disks.map((disk) => disk.name)).toEqual(['/var/lib/ingot/disk0.img']);
  });

  it('names the file and says it is not JSON when it is not', async () => {
    expect(await configError('interfaces: [eth0]')).toMatch(/^machine file \/etc\/ingot\/machine\.json is not JSON/);
  });

  it('names the file and the interfaces field when interfaces are missing or empty', async () => {
    expect(await configError('{"hostname":"x"}')).toBe(
      'machine file /etc/ingot/machine.json: interfaces: missing; describe at least one NIC so lookup has a MAC to send');
    expect(await configError('{"interfaces":[]}')).toMatch(/interfaces: must be a non-empty array/);
  });

  it('names the file and the exact interface field of a bad or missing MAC', async () => {
    const details = await configError('{"interfaces":[{"name":"eth0","mac_address":"52:54:00:ab:cd:ef"},{"name":"eth1","mac_address":"52:54:00:zz:cd:ef"}]}');
    expect(details).toBe('machine file /etc/ingot/machine.json: interfaces[1].mac_address: "52:54:00:zz:cd:ef" is not a MAC address such as "52:54:00:12:34:56"');
    expect(await configError('{"interfaces":[{"name":"eth0"}]}')).toMatch(/interfaces\[0\]\.mac_address: missing/);
  });

  it('rejects wrong types, bad addresses, unknown fields and a disks field, naming each', async () => {
    const nic = '{"name":"eth0","mac_address":"52:54:00:ab:cd:ef"}';
    expect(await configError(`{"interfaces":[${nic}],"cpu":{"count":"8"}}`)).toMatch(/cpu\.count: must be a positive integer, not "8"/);
    expect(await configError(`{"interfaces":[{"name":"eth0","mac_address":"52:54:00:ab:cd:ef","ipv4_address":"10.0.0.300"}]}`))
      .toMatch(/interfaces\[0\]\.ipv4_address: "10\.0\.0\.300" is not an IPv4 address/);
    expect(await configError(`{"interfaces":[${nic}],"interface":[]}`)).toMatch(/: interface: unknown field \(known: interfaces,/);
    expect(await configError(`{"interfaces":[${nic}],"boot":{"current_boot_mode":"legacy"}}`)).toMatch(/boot\.current_boot_mode: "legacy" is neither/);
    expect(await configError(`{"interfaces":[${nic}],"disks":[]}`)).toMatch(/disks: disks are not described in the machine file/);
    expect(await configError('[]')).toMatch(/machine\.json: must be a JSON object/);
  });

  it('names the file when it cannot be read, and reads it from disk through the real System', async () => {
    const system = createRealSystem({ guard: createDeviceGuard({ mode: 'sandbox', disks: [] }) });
    const unreadable = createMachineFileInventory({ path: '/nonexistent/machine.json', devices, system });
    await expect(unreadable.collect()).rejects.toThrow(/machine file \/nonexistent\/machine\.json cannot be read: ENOENT/);

    const dir = mkdtempSync(join(tmpdir(), 'ingot-machine-'));
    try {
      const file = join(dir, 'machine.json');
      writeFileSync(file, '{"interfaces":[{"name":"eth0","mac_address":"52:54:00:00:00:01"}],"hostname":"from-disk"}');
      const inventory = await createMachineFileInventory({ path: file, devices, system }).collect();
      expect(inventory.hostname).toBe('from-disk');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
