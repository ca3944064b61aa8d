import { isIP } from 'node:net';
import { describeInput, IngotError } from '@ingot/protocol';

/**
 * OpenStack's `network_data.json` (the config-drive format Ironic writes for
 * glean, reference 10.3), reduced to what a provisioning ramdisk applies:
 * physical links found by MAC, VLANs on them, static IPv4/IPv6 addresses with
 * their routes, DHCP networks, and DNS servers.
 */
export interface NetworkLink {
  id: string;
  kind: 'physical' | 'vlan';
  /** Lower-case MAC; for a VLAN, the MAC it may carry (optional). */
  mac: string | undefined;
  mtu: number | undefined;
  /** VLAN only: the link it rides on, and its id. */
  parent?: string;
  vlanId?: number;
}

export interface NetworkRoute {
  /** `default` or a CIDR. */
  destination: string;
  gateway: string;
}

export type NetworkConfig =
  | { id: string; link: string; kind: 'static'; family: 4 | 6; address: string; prefix: number; routes: NetworkRoute[] }
  | { id: string; link: string; kind: 'dhcp'; family: 4 | 6; routes: [] };

export interface NetworkData {
  links: NetworkLink[];
  networks: NetworkConfig[];
  dns: string[];
}

/** Link types that name a NIC by its MAC (Ironic writes `phy`; Nova also writes these). */
const physicalTypes = new Set(['phy', 'ethernet', 'vif', 'bridge', 'ovs', 'tap', 'vhostuser', 'hw_veb', 'hyperv', 'vrouter', 'dvs']);

/** Parses network_data.json; `source` names the device and file in every error. */
export function parseNetworkData(text: string, source: string): NetworkData {
  const fail = (why: string, cause?: unknown) => new IngotError('INGOT_CONFIG_INVALID', { details: `${source}: ${why}`, cause });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw fail(`not valid JSON (${(error as Error).message})`, error);
  }
  if (!isRecord(parsed)) throw fail('the top level must be an object with "links" and "networks"');
  const rawLinks = optionalArray(parsed.links, 'links', fail);
  const rawNetworks = optionalArray(parsed.networks, 'networks', fail);
  const rawServices = optionalArray(parsed.services, 'services', fail);

  const links = rawLinks.map((raw, index): NetworkLink => {
    const where = `links[${index}]`;
    if (!isRecord(raw)) throw fail(`${where} is not an object`);
    const id = requiredString(raw.id, `${where}.id`, fail);
    const type = typeof raw.type === 'string' ? raw.type : 'phy';
    const mtu = raw.mtu === undefined || raw.mtu === null ? undefined : wholeNumber(raw.mtu);
    if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535)) throw fail(`${where}.mtu (link "${id}") must be a whole number between 68 and 65535, got ${describeInput(raw.mtu)}`);
    if (type === 'vlan') {
      const parent = requiredString(raw.vlan_link, `${where}.vlan_link (link "${id}")`, fail);
      const vlanId = wholeNumber(raw.vlan_id);
      if (!Number.isInteger(vlanId) || vlanId < 1 || vlanId > 4094) throw fail(`${where}.vlan_id (link "${id}") must be 1 to 4094, got ${describeInput(raw.vlan_id)}`);
      return { id, kind: 'vlan', parent, vlanId, mtu, mac: optionalMac(raw.vlan_mac_address ?? raw.ethernet_mac_address, `${where}.vlan_mac_address`, fail) };
    }
    if (type === 'bond') throw fail(`${where} (link "${id}") is a bond; the ramdisk configures single links and VLANs only: give one member link instead`);
    if (!physicalTypes.has(type)) throw fail(`${where}.type "${type}" (link "${id}") is not a link type Ingot knows (phy, vlan)`);
    const mac = optionalMac(raw.ethernet_mac_address, `${where}.ethernet_mac_address`, fail);
    if (!mac) throw fail(`${where}.ethernet_mac_address (link "${id}") is missing: a physical link is found by its MAC`);
    return { id, kind: 'physical', mac, mtu };
  });
  const linkIds = new Set(links.map((link) => link.id));
  for (const link of links) {
    if (link.kind === 'vlan' && !linkIds.has(link.parent!)) throw fail(`link "${link.id}": vlan_link "${link.parent}" is not one of the links (${[...linkIds].join(', ')})`);
  }

  const dns = new Set<string>();
  const networks = rawNetworks.map((raw, index): NetworkConfig => {
    const where = `networks[${index}]`;
    if (!isRecord(raw)) throw fail(`${where} is not an object`);
    const id = typeof raw.id === 'string' ? raw.id : `network${index}`;
    const link = requiredString(raw.link, `${where}.link (network "${id}")`, fail);
    if (!linkIds.has(link)) throw fail(`${where}.link "${link}" (network "${id}") is not one of the links (${[...linkIds].join(', ') || 'none'})`);
    const type = requiredString(raw.type, `${where}.type (network "${id}")`, fail);
    for (const server of Array.isArray(raw.dns_nameservers) ? raw.dns_nameservers : []) {
      if (typeof server === 'string' && isIP(server)) dns.add(server);
    }
    if (type === 'ipv4_dhcp' || type === 'ipv6_dhcp' || type === 'ipv6_slaac') return { id, link, kind: 'dhcp', family: type === 'ipv4_dhcp' ? 4 : 6, routes: [] };
    if (type !== 'ipv4' && type !== 'ipv6') throw fail(`${where}.type "${type}" (network "${id}") is not ipv4, ipv6, ipv4_dhcp, ipv6_dhcp or ipv6_slaac`);
    const family = type === 'ipv4' ? 4 : 6;
    const rawAddress = requiredString(raw.ip_address, `${where}.ip_address (network "${id}")`, fail);
    const [address, inlinePrefix] = rawAddress.split('/') as [string, string | undefined];
    if (isIP(address) !== family) throw fail(`${where}.ip_address "${rawAddress}" (network "${id}") is not an IPv${family} address`);
    const prefix = inlinePrefix !== undefined ? Number(inlinePrefix) : prefixOf(raw, family, `${where} (network "${id}")`, fail);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) throw fail(`${where}.ip_address "${rawAddress}" (network "${id}") has an invalid prefix length`);
    const routes = optionalArray(raw.routes, `${where}.routes`, fail).map((route, r) => parseRoute(route, family, `${where}.routes[${r}] (network "${id}")`, fail));
    if (typeof raw.gateway === 'string' && raw.gateway && !routes.some((route) => route.destination === 'default')) {
      if (isIP(raw.gateway) !== family) throw fail(`${where}.gateway "${raw.gateway}" (network "${id}") is not an IPv${family} address`);
      routes.push({ destination: 'default', gateway: raw.gateway });
    }
    return { id, link, kind: 'static', family, address, prefix, routes };
  });

  rawServices.forEach((raw, index) => {
    if (!isRecord(raw) || raw.type !== 'dns') return;
    const address = requiredString(raw.address, `services[${index}].address`, fail);
    if (!isIP(address)) throw fail(`services[${index}].address "${address}" is not an IP address`);
    dns.add(address);
  });
  return { links, networks, dns: [...dns] };
}

type Fail = (why: string) => IngotError;

function parseRoute(raw: unknown, family: 4 | 6, where: string, fail: Fail): NetworkRoute {
  if (!isRecord(raw)) throw fail(`${where} is not an object`);
  const gateway = requiredString(raw.gateway, `${where}.gateway`, fail);
  if (isIP(gateway) !== family) throw fail(`${where}.gateway "${gateway}" is not an IPv${family} address`);
  const network = requiredString(raw.network, `${where}.network`, fail);
  const [base, inlinePrefix] = network.split('/') as [string, string | undefined];
  if (isIP(base) !== family) throw fail(`${where}.network "${network}" is not an IPv${family} network`);
  const prefix = inlinePrefix !== undefined ? Number(inlinePrefix) : prefixOf(raw, family, where, fail);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) throw fail(`${where}.network "${network}" has an invalid prefix length`);
  return { destination: prefix === 0 ? 'default' : `${base}/${prefix}`, gateway };
}

/** The prefix length of a network from `netmask` (dotted or a number) or `prefix`. */
function prefixOf(raw: Record<string, unknown>, family: 4 | 6, where: string, fail: Fail): number {
  const given = raw.prefix ?? raw.netmask;
  if (given === undefined || given === null || given === '') throw fail(`${where} has neither "netmask" nor "prefix" nor an address/prefix`);
  if (typeof given === 'number') return given;
  if (typeof given !== 'string') throw fail(`${where}.netmask is ${describeInput(given)}, not a netmask or a prefix length`);
  if (/^\d+$/.test(given)) return Number(given);
  const mask = given;
  if (isIP(mask) !== family) throw fail(`${where}.netmask "${mask}" is not an IPv${family} netmask or a prefix length`);
  const bits = addressBits(mask, family);
  if (!/^1*0*$/.test(bits)) throw fail(`${where}.netmask "${mask}" is not contiguous`);
  return bits.indexOf('0') === -1 ? bits.length : bits.indexOf('0');
}

/** An address as a string of 32 or 128 bits; `::` expanded. */
function addressBits(address: string, family: 4 | 6): string {
  if (family === 4) return address.split('.').map((octet) => Number(octet).toString(2).padStart(8, '0')).join('');
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((group) => parseInt(group, 16).toString(2).padStart(16, '0')).join('');
}

/** A number, or its decimal text; anything else NaN (Number() of a deeply nested list overflows the stack). */
function wholeNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  return typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
}

function optionalMac(value: unknown, where: string, fail: Fail): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(value)) throw fail(`${where} ${describeInput(value)} is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  return value.toLowerCase();
}

function requiredString(value: unknown, where: string, fail: Fail): string {
  if (typeof value !== 'string' || !value) throw fail(`${where} is missing or not a string`);
  return value;
}

function optionalArray(value: unknown, where: string, fail: Fail): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw fail(`"${where}" must be an array`);
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
