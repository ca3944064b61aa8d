import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createFakeSystem, type FakeCommand } from '../testing.ts';
import { parseBlkidExport, virtualMediaVerdict } from './config-devices.ts';
import { setUpVirtualMedia } from './set-up-virtual-media.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const token = 'T'.repeat(43);
const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const networkData = JSON.stringify({
  links: [{ id: 'l0', type: 'phy', ethernet_mac_address: '52:54:00:12:34:56' }],
  networks: [{ id: 'n0', type: 'ipv4', link: 'l0', ip_address: '10.0.2.15', netmask: '255.255.255.0', routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.0.2.2' }] }],
  services: [{ type: 'dns', address: '10.0.2.3' }],
});

const machineNet = {
  '/sys/class/net/lo/address': '00:00:00:00:00:00\n',
  '/sys/class/net/eth0/address': '52:54:00:12:34:56\n',
  '/sys/class/net/eth0/device/vendor': '0x1af4\n',
};

const mounting = (device: string, fstype: string): FakeCommand[] => [
  { argv: ['mkdir', '-p', `/run/ingot/vmedia/${device}`] },
  { argv: ['mount', '-t', fstype, '-o', 'ro', `/dev/${device}`, `/run/ingot/vmedia/${device}`] },
  { argv: ['umount', `/run/ingot/vmedia/${device}`] },
];

describe('setUpVirtualMedia', () => {
  it('reads a config-2 CD-ROM, merges its parameters over the kernel command line, trusts its CA and applies network_data.json with ip', async () => {
    const root = '/run/ingot/vmedia/sr0';
    const system = createFakeSystem({
      commands: [
        { argv: ['blkid', '-o', 'export'], stdout: fixture('blkid-export-qemu.txt') },
        { argv: [/^lsblk$/, '--json', '--bytes', '--paths', '--output', /NAME/, '/dev/sr0'], stdout: fixture('lsblk-sr0.json') },
        ...mounting('sr0', 'iso9660'),
        { argv: ['cp', `${root}/etc/ironic-python-agent/ironic.crt`, '/run/ingot/ironic.crt'] },
        { argv: ['ip', 'link', 'set', 'dev', 'eth0', 'up'] },
        { argv: ['ip', '-4', 'addr', 'replace', '10.0.2.15/24', 'dev', 'eth0'] },
        { argv: ['ip', '-4', 'route', 'replace', 'default', 'via', '10.0.2.2', 'dev', 'eth0'] },
      ],
      files: {
        ...machineNet,
        [`${root}/openstack/latest/network_data.json`]: networkData,
        [`${root}/etc/ironic-python-agent/ironic.crt`]: pem,
        [`${root}/etc/ingot/parameters.txt`]: `# node n1\nipa-api-url=https://192.0.2.10:6385 ipa-agent-token=${token}\n`,
      },
    });
    const result = await setUpVirtualMedia({ system, kernel: { console: 'ttyS0', 'ipa-api-url': 'http://ignored:6385', 'ipa-debug': '1' } });
    expect(result.params).toEqual({
      console: 'ttyS0', 'ipa-debug': '1', 'ipa-api-url': 'https://192.0.2.10:6385', 'ipa-agent-token': token, 'ipa-ca-file': '/run/ingot/ironic.crt',
    });
    expect(result.report).toMatchObject({
      devices: [{ device: '/dev/sr0', label: 'config-2', role: 'config-drive', files: ['etc/ingot/parameters.txt', 'openstack/latest/network_data.json', 'etc/ironic-python-agent/ironic.crt'] }],
      parameterNames: ['ipa-agent-token', 'ipa-api-url'],
      caFile: '/run/ingot/ironic.crt',
      network: { method: 'static', interfaces: { l0: 'eth0' }, dhcp: [], dns: true },
    });
    expect(JSON.stringify(result.report)).not.toContain(token);
    expect(system.files.get('/etc/resolv.conf')).toBe('nameserver 10.0.2.3\n');
    // Unmounted after reading, before the network is touched.
    const order = system.calls.map((argv) => argv.slice(0, 2).join(' '));
    expect(order.indexOf('umount /run/ingot/vmedia/sr0')).toBeLessThan(order.indexOf('ip link'));
  });

  it('lets an ir-vfd-dev floppy\'s parameters.txt win over the kernel, and runs DHCP itself when no network_data.json exists', async () => {
    const system = createFakeSystem({
      commands: [
        { argv: ['blkid', '-o', 'export'], stdout: 'DEVNAME=/dev/sda\nLABEL=IR-VFD-DEV\nTYPE=vfat\n' },
        { argv: [/^lsblk$/, '--json', '--bytes', '--paths', '--output', /NAME/, '/dev/sda'], stdout: JSON.stringify({ blockdevices: [{ name: '/dev/sda', kname: '/dev/sda', type: 'disk', size: 1474560, tran: 'usb' }] }) },
        ...mounting('sda', 'vfat'),
        { argv: ['ip', 'link', 'set', 'dev', 'eth0', 'up'] },
        { argv: ['udhcpc', '-q', '-n', '-t', '5', '-i', 'eth0', '-s', '/etc/ingot/udhcpc.script'] },
      ],
      files: { ...machineNet, '/etc/ingot/udhcpc.script': '#!/bin/sh\n', '/run/ingot/vmedia/sda/parameters.txt': 'ipa-api-url=http://10.1.1.1:6385 boot_method=vmedia\n' },
    });
    const result = await setUpVirtualMedia({ system, kernel: { 'ipa-api-url': 'http://kernel:6385' } });
    expect(result.params).toEqual({ 'ipa-api-url': 'http://10.1.1.1:6385', boot_method: 'vmedia' });
    expect(result.report?.network).toMatchObject({ method: 'dhcp', dhcp: ['eth0'] });
  });

  it('never takes configuration from a config-2 partition of a local disk (an earlier instance\'s config drive), and runs the DHCP /init skipped', async () => {
    const system = createFakeSystem({
      commands: [
        { argv: ['blkid', '-o', 'export'], stdout: 'DEVNAME=/dev/vda2\nLABEL=config-2\nTYPE=iso9660\n' },
        { argv: [/^lsblk$/, '--json', '--bytes', '--paths', '--output', /NAME/, '/dev/vda2'], stdout: JSON.stringify({ blockdevices: [{ name: '/dev/vda2', kname: '/dev/vda2', type: 'part', size: 67108864, tran: null }] }) },
        { argv: ['ip', 'link', 'set', 'dev', 'eth0', 'up'] },
        { argv: ['udhcpc', '-q', '-n', '-t', '5', '-i', 'eth0'] },
      ],
      files: machineNet,
    });
    const result = await setUpVirtualMedia({ system, kernel: { 'ipa-api-url': 'http://kernel:6385' } });
    expect(result.params).toEqual({ 'ipa-api-url': 'http://kernel:6385' });
    expect(result.report?.ignored).toEqual([{ device: '/dev/vda2', label: 'config-2', reason: expect.stringMatching(/partition/) }]);
    expect(result.report?.network).toMatchObject({ method: 'dhcp', dhcp: ['eth0'] });
    expect(system.calls.some((argv) => argv[0] === 'mount')).toBe(false);
  });

  it('does nothing at all when no device is labelled (blkid exits 2)', async () => {
    const system = createFakeSystem({ commands: [{ argv: ['blkid', '-o', 'export'], exitCode: 2 }] });
    expect(await setUpVirtualMedia({ system, kernel: { a: '1' } })).toEqual({ params: { a: '1' }, report: undefined });
  });

  it('names the device and the field when network_data.json points at a MAC the machine does not have', async () => {
    const system = createFakeSystem({
      commands: [
        { argv: ['blkid', '-o', 'export'], stdout: fixture('blkid-export-qemu.txt') },
        { argv: [/^lsblk$/, '--json', '--bytes', '--paths', '--output', /NAME/, '/dev/sr0'], stdout: fixture('lsblk-sr0.json') },
        ...mounting('sr0', 'iso9660'),
      ],
      files: { '/sys/class/net/eth0/address': '52:54:00:aa:bb:cc\n', '/run/ingot/vmedia/sr0/openstack/latest/network_data.json': networkData },
    });
    await expect(setUpVirtualMedia({ system, kernel: {} })).rejects.toThrow(/\/dev\/sr0 \(label config-2\): openstack\/latest\/network_data\.json: link "l0" has ethernet_mac_address 52:54:00:12:34:56, but no interface/);
  });
});

describe('config device discovery', () => {
  it('parses blkid -o export of every device into entries', () => {
    const entries = parseBlkidExport(fixture('blkid-export-qemu.txt'));
    expect(entries.find((entry) => entry.DEVNAME === '/dev/sr0')).toMatchObject({ LABEL: 'config-2', TYPE: 'iso9660' });
  });

  it.each([
    [{ type: 'rom', tran: 'ata', size: 378_000, model: 'QEMU DVD-ROM' }, true],
    [{ type: 'disk', tran: 'usb', size: 2 * 1024 ** 2, model: 'QEMU HARDDISK' }, true],
    [{ type: 'disk', tran: 'usb', size: 64 * 1024 ** 3, model: 'Ultra' }, false],
    [{ type: 'disk', tran: 'sata', size: 1024 ** 3, model: 'Virtual Media' }, true],
    [{ type: 'disk', tran: 'sata', size: 1024 ** 3, model: 'ST1000' }, false],
    [{ type: 'part', tran: null, size: 64 * 1024 ** 2, model: null }, false],
  ])('judges %j as virtual media: %s', (info, plausible) => {
    expect(virtualMediaVerdict(info) === undefined).toBe(plausible);
  });
});
