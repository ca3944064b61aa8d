import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseNetworkData } from './network-data.ts';
import { planNetworkCommands } from './network-commands.ts';

const ironic = readFileSync(new URL('./fixtures/network-data-ironic.json', import.meta.url), 'utf8');
const source = '/dev/sr0: openstack/latest/network_data.json';
const machine = [{ name: 'lo', mac: '00:00:00:00:00:00' }, { name: 'enp1s0', mac: '52:54:00:d3:6a:71' }, { name: 'enp2s0', mac: '52:54:00:00:00:02' }];

describe('parseNetworkData and planNetworkCommands', () => {
  it('turns the network_data.json Ironic writes into ip commands for the NIC with that MAC, and a resolv.conf', () => {
    const plan = planNetworkCommands(parseNetworkData(ironic, source), machine, source);
    expect(plan.commands).toEqual([
      ['ip', 'link', 'set', 'dev', 'enp1s0', 'mtu', '1500'],
      ['ip', 'link', 'set', 'dev', 'enp1s0', 'up'],
      ['ip', '-4', 'addr', 'replace', '192.168.122.42/24', 'dev', 'enp1s0'],
      ['ip', '-4', 'route', 'replace', 'default', 'via', '192.168.122.1', 'dev', 'enp1s0'],
    ]);
    expect(plan.resolvConf).toBe('nameserver 192.168.122.1\n');
    expect(plan.interfaces).toEqual({ 'port-92750f6c-60a9-4897-9cd1-090c5f361e18': 'enp1s0' });
    expect(plan.dhcp).toEqual([]);
  });

  it('accepts a prefix instead of a netmask, an address/prefix, a network-level gateway and per-network DNS', () => {
    const data = parseNetworkData(JSON.stringify({
      links: [{ id: 'l0', ethernet_mac_address: '52:54:00:00:00:02' }],
      networks: [
        { id: 'v4', type: 'ipv4', link: 'l0', ip_address: '10.0.2.15', prefix: 24, gateway: '10.0.2.2', dns_nameservers: ['10.0.2.3'] },
        { id: 'v6', type: 'ipv6', link: 'l0', ip_address: '2001:db8::15/64', routes: [{ network: '::', netmask: '::', gateway: '2001:db8::1' }, { network: '2001:db8:2::', netmask: 'ffff:ffff:ffff:ffff::', gateway: '2001:db8::fd' }, { network: '2001:db8:1::/48', gateway: '2001:db8::fe' }] },
      ],
    }), source);
    const plan = planNetworkCommands(data, machine, source);
    expect(plan.commands.slice(1)).toEqual([
      ['ip', '-4', 'addr', 'replace', '10.0.2.15/24', 'dev', 'enp2s0'],
      ['ip', '-6', 'addr', 'replace', '2001:db8::15/64', 'dev', 'enp2s0'],
      ['ip', '-4', 'route', 'replace', 'default', 'via', '10.0.2.2', 'dev', 'enp2s0'],
      ['ip', '-6', 'route', 'replace', 'default', 'via', '2001:db8::1', 'dev', 'enp2s0'],
      ['ip', '-6', 'route', 'replace', '2001:db8:2::/64', 'via', '2001:db8::fd', 'dev', 'enp2s0'],
      ['ip', '-6', 'route', 'replace', '2001:db8:1::/48', 'via', '2001:db8::fe', 'dev', 'enp2s0'],
    ]);
    expect(plan.resolvConf).toBe('nameserver 10.0.2.3\n');
  });

  it('creates a VLAN on its parent link (listed in any order), and not again when it already exists', () => {
    const data = parseNetworkData(JSON.stringify({
      links: [
        { id: 'v100', type: 'vlan', vlan_link: 'p0', vlan_id: 100, vlan_mac_address: '52:54:00:00:01:00' },
        { id: 'p0', type: 'phy', ethernet_mac_address: '52:54:00:d3:6a:71' },
      ],
      networks: [{ id: 'n', type: 'ipv4', link: 'v100', ip_address: '192.0.2.5', netmask: '255.255.255.128' }],
    }), source);
    expect(planNetworkCommands(data, machine, source).commands).toEqual([
      ['ip', 'link', 'set', 'dev', 'enp1s0', 'up'],
      ['ip', 'link', 'add', 'link', 'enp1s0', 'name', 'enp1s0.100', 'type', 'vlan', 'id', '100'],
      ['ip', 'link', 'set', 'dev', 'enp1s0.100', 'address', '52:54:00:00:01:00'],
      ['ip', 'link', 'set', 'dev', 'enp1s0.100', 'up'],
      ['ip', '-4', 'addr', 'replace', '192.0.2.5/25', 'dev', 'enp1s0.100'],
    ]);
    const again = planNetworkCommands(data, [...machine, { name: 'enp1s0.100', mac: '52:54:00:00:01:00' }], source);
    expect(again.commands.some((argv) => argv.includes('add') && argv.includes('vlan'))).toBe(false);
  });

  it('leaves ipv4_dhcp networks to DHCP and notes that IPv6 autoconfiguration is left to the kernel', () => {
    const data = parseNetworkData(JSON.stringify({
      links: [{ id: 'p0', ethernet_mac_address: '52:54:00:d3:6a:71' }],
      networks: [{ type: 'ipv4_dhcp', link: 'p0' }, { type: 'ipv6_slaac', link: 'p0' }],
    }), source);
    const plan = planNetworkCommands(data, machine, source);
    expect(plan.dhcp).toEqual(['enp1s0']);
    expect(plan.notes).toHaveLength(1);
    expect(plan.commands).toEqual([['ip', 'link', 'set', 'dev', 'enp1s0', 'up']]);
  });

  it('names the file and the MAC when no interface of the machine has it', () => {
    const data = parseNetworkData(ironic, source);
    expect(() => planNetworkCommands(data, [{ name: 'eth0', mac: '52:54:00:12:34:56' }], source))
      .toThrow(/sr0: openstack\/latest\/network_data\.json: link "port-92750f6c.*" has ethernet_mac_address 52:54:00:d3:6a:71, but no interface.*eth0=52:54:00:12:34:56/);
  });

  it.each([
    ['not JSON', '{', /not valid JSON/],
    ['a bond', JSON.stringify({ links: [{ id: 'b', type: 'bond', bond_links: [] }] }), /links\[0\] \(link "b"\) is a bond/],
    ['a network on a missing link', JSON.stringify({ links: [], networks: [{ type: 'ipv4', link: 'x', ip_address: '10.0.0.1', netmask: '255.0.0.0' }] }), /networks\[0\]\.link "x"/],
    ['a non-contiguous netmask', JSON.stringify({ links: [{ id: 'p', ethernet_mac_address: '52:54:00:d3:6a:71' }], networks: [{ type: 'ipv4', link: 'p', ip_address: '10.0.0.1', netmask: '255.0.255.0' }] }), /networks\[0\] \(network "network0"\)\.netmask "255\.0\.255\.0" is not contiguous/],
    ['no netmask at all', JSON.stringify({ links: [{ id: 'p', ethernet_mac_address: '52:54:00:d3:6a:71' }], networks: [{ type: 'ipv4', link: 'p', ip_address: '10.0.0.1' }] }), /neither "netmask" nor "prefix"/],
    ['an IPv6 gateway on an IPv4 route', JSON.stringify({ links: [{ id: 'p', ethernet_mac_address: '52:54:00:d3:6a:71' }], networks: [{ type: 'ipv4', link: 'p', ip_address: '10.0.0.1/8', routes: [{ network: '0.0.0.0/0', gateway: 'fe80::1' }] }] }), /routes\[0\].*\.gateway "fe80::1" is not an IPv4 address/],
    ['a bad MAC', JSON.stringify({ links: [{ id: 'p', ethernet_mac_address: '52:54:00' }] }), /links\[0\]\.ethernet_mac_address "52:54:00" is not a MAC/],
  ])('refuses %s with an error naming the device, file and field', (_what, text, pattern) => {
    let error: unknown;
    try {
      parseNetworkData(text, source);
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: 'INGOT_CONFIG_INVALID' });
    expect((error as Error).message).toContain(source);
    expect((error as Error).message).toMatch(pattern);
  });
});

describe('parseNetworkData on hostile values (fuzz findings)', () => {
  const deep = `${'['.repeat(20_000)}1${']'.repeat(20_000)}`;
  const doc = (link: string, network = '{"id":"n","type":"ipv4","link":"l0","ip_address":"10.0.0.2","prefix":24}') =>
    `{"links":[{"id":"l0","ethernet_mac_address":"52:54:00:00:00:02",${link}}],"networks":[${network}]}`;

  it('refuses an mtu, a vlan_id, a netmask or a MAC nested thousands deep naming the field, not with a RangeError', () => {
    for (const [text, field] of [[doc(`"mtu":${deep}`), 'links[0].mtu'], [doc('"mtu":1500', `{"id":"n","type":"ipv4","link":"l0","ip_address":"10.0.0.2","netmask":${deep}}`), 'netmask'],
      [`{"links":[{"id":"p","ethernet_mac_address":"52:54:00:00:00:02"},{"id":"v","type":"vlan","vlan_link":"p","vlan_id":${deep}}]}`, 'vlan_id'],
      [`{"links":[{"id":"p","ethernet_mac_address":${deep}}]}`, 'ethernet_mac_address']] as const) {
      expect(() => parseNetworkData(text, source)).toThrow(new RegExp(`${source}: .*${field.replace(/[[\]]/g, '\\$&')}`));
    }
  });

  it('takes a prefix as a number or digits only: [24] is no netmask', () => {
    expect(() => parseNetworkData(doc('"mtu":1500', '{"id":"n","type":"ipv4","link":"l0","ip_address":"10.0.0.2","netmask":[24]}'), source)).toThrow(/netmask is a list of 1, not a netmask/);
  });
});
