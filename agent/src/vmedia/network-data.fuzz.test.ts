import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fuzz } from '../../../test/support/fuzz.ts';
import { jsonOf, jsonText, mutated, oddString, oddValue, parsesOrRefuses, withOwn } from '../../../test/support/fuzz-inputs.ts';
import { parseNetworkData } from './network-data.ts';
import { planNetworkCommands } from './network-commands.ts';

const source = '/dev/sr0: openstack/latest/network_data.json';
const ironic = JSON.parse(readFileSync(new URL('./fixtures/network-data-ironic.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((bytes) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':'));
const machine = [{ name: 'enp1s0', mac: '52:54:00:d3:6a:71' }, { name: 'enp2s0', mac: '52:54:00:00:00:02' }];

/** Values near the fields' shapes: addresses, masks, prefixes, MACs, link types. */
const near = fc.oneof(
  oddValue, fc.ipV4(), fc.ipV6(), mac, fc.integer({ min: -1, max: 200 }),
  fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6()), fc.oneof(fc.integer({ min: -1, max: 200 }), oddString)).map(([ip, bits]) => `${ip}/${bits}`),
  fc.constantFrom('phy', 'vlan', 'bond', 'ipv4', 'ipv6', 'ipv4_dhcp', 'ipv6_slaac', 'dns', 'default', '255.255.255.0', '255.0.255.0', 'ffff:ffff::', '::ffff:255.255.255.0', '1:2:3:4:5:6:7::', '::1.2.3.4'),
);
/** A mutation somewhere in the document: the top level, a link, a network or one of its routes. */
const mutatedDocument = fc.oneof(
  mutated(ironic, ['services'], near),
  mutated((ironic.links as Record<string, unknown>[])[0]!, ['type', 'vlan_link', 'vlan_id', 'vlan_mac_address'], near).map((link) => withOwn(ironic, [['links', [link]]])),
  mutated((ironic.networks as Record<string, unknown>[])[0]!, ['prefix', 'gateway', 'dns_nameservers'], near).map((network) => withOwn(ironic, [['networks', [network]]])),
  mutated({ network: '10.0.0.0', netmask: '255.0.0.0', gateway: '192.168.122.1' }, ['prefix'], near).map((route) => withOwn(ironic, [['networks', [{ ...(ironic.networks as object[])[0], routes: [route] }]]])),
);

it('reads any text as network_data.json: links, networks and DNS it can apply, or INGOT_CONFIG_INVALID naming the file', async () => {
  await fuzz('parseNetworkData on any document', 350, fc.property(
    fc.oneof(jsonText, mutatedDocument.map(jsonOf)),
    (text) => {
      const outcome = parsesOrRefuses(() => parseNetworkData(text, source), ['INGOT_CONFIG_INVALID'], source);
      if (!('value' in outcome)) return;
      const data = outcome.value;
      for (const link of data.links) if (link.mac !== undefined) expect(link.mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      for (const network of data.networks) {
        expect([4, 6]).toContain(network.family);
        if (network.kind === 'static') expect(network.prefix).toBeLessThanOrEqual(network.family === 4 ? 32 : 128);
      }
      parsesOrRefuses(() => planNetworkCommands(data, machine, source), ['INGOT_CONFIG_INVALID'], source);
    },
  ));
});

const prefixToMask = (prefix: number, family: 4 | 6): string => {
  const bits = '1'.repeat(prefix).padEnd(family === 4 ? 32 : 128, '0');
  return family === 4
    ? bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)).join('.')
    : bits.match(/.{16}/g)!.map((b) => parseInt(b, 2).toString(16)).join(':');
};

it('reads back the addresses, prefixes (as netmask, prefix or address/prefix), routes and DNS of a document it is given', async () => {
  await fuzz('network_data.json round trip', 200, fc.property(
    mac, fc.constantFrom(4, 6) as fc.Arbitrary<4 | 6>, fc.constantFrom('netmask', 'prefix', 'inline'),
    fc.integer({ min: 0, max: 128 }), fc.option(fc.integer({ min: 1, max: 4094 })), fc.array(fc.ipV4(), { maxLength: 3 }),
    fc.ipV4(), fc.ipV6(), fc.ipV4(), fc.ipV6(),
    (linkMac, family, prefixForm, rawPrefix, vlan, dns, v4, v6, gw4, gw6) => {
      const prefix = rawPrefix % ((family === 4 ? 32 : 128) + 1);
      const address = family === 4 ? v4 : v6;
      const gateway = family === 4 ? gw4 : gw6;
      const links: object[] = [{ id: 'p0', type: 'phy', ethernet_mac_address: linkMac.toUpperCase() }];
      if (vlan) links.push({ id: 'v0', type: 'vlan', vlan_link: 'p0', vlan_id: vlan });
      const network = {
        id: 'n0', type: `ipv${family}`, link: vlan ? 'v0' : 'p0',
        ip_address: prefixForm === 'inline' ? `${address}/${prefix}` : address,
        ...(prefixForm === 'netmask' ? { netmask: prefixToMask(prefix, family) } : prefixForm === 'prefix' ? { prefix } : {}),
        routes: [{ network: family === 4 ? '0.0.0.0' : '::', netmask: family === 4 ? '0.0.0.0' : '::', gateway }],
      };
      const text = JSON.stringify({ links, networks: [network], services: dns.map((address) => ({ type: 'dns', address })) });
      const data = parseNetworkData(text, source);
      expect(data.links[0]).toMatchObject({ id: 'p0', kind: 'physical', mac: linkMac.toLowerCase() });
      if (vlan) expect(data.links[1]).toMatchObject({ kind: 'vlan', parent: 'p0', vlanId: vlan });
      expect(data.networks).toEqual([{ id: 'n0', link: vlan ? 'v0' : 'p0', kind: 'static', family, address, prefix, routes: [{ destination: 'default', gateway }] }]);
      expect(data.dns).toEqual([...new Set(dns)]);
    },
  ));
});
