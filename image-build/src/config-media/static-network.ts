/**
 * `--static 10.0.2.15/24,gw=10.0.2.2,mac=52:54:00:12:34:56[,dns=10.0.2.3]`
 * → an OpenStack network_data.json for one NIC with a static IPv4 address,
 * the shape Ironic writes for DHCP-less virtual media.
 */
import { isIPv4 } from 'node:net';

export interface StaticNetwork {
  address: string;
  prefix: number;
  gateway?: string;
  mac: string;
  dns: string[];
  mtu?: number;
}

export function parseStaticNetwork(spec: string): StaticNetwork {
  const [cidr = '', ...options] = spec.split(',').map((part) => part.trim());
  const [address = '', prefixText] = cidr.split('/');
  if (!isIPv4(address) || prefixText === undefined || !/^\d+$/.test(prefixText) || Number(prefixText) > 32) {
    throw new Error(`--static "${spec}": starts with an IPv4 address and prefix, like 10.0.2.15/24`);
  }
  const result: StaticNetwork = { address, prefix: Number(prefixText), mac: '', dns: [] };
  for (const option of options) {
    const [key, value = ''] = option.split('=');
    if (key === 'gw' && isIPv4(value)) result.gateway = value;
    else if (key === 'mac' && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(value)) result.mac = value.toLowerCase();
    else if (key === 'dns' && isIPv4(value)) result.dns.push(value);
    // 68 to 65535, what the agent accepts in network_data.json (found by fuzzing: mtu=65536 built a medium the agent refused).
    else if (key === 'mtu' && /^\d{2,5}$/.test(value) && Number(value) >= 68 && Number(value) <= 65535) result.mtu = Number(value);
    else throw new Error(`--static "${spec}": "${option}" is not gw=<IPv4>, mac=<aa:bb:cc:dd:ee:ff>, dns=<IPv4> or mtu=<68 to 65535>`);
  }
  if (!result.mac) throw new Error(`--static "${spec}": mac=<aa:bb:cc:dd:ee:ff> is required, the agent finds the NIC by its MAC`);
  return result;
}

export function renderNetworkData(network: StaticNetwork): Record<string, unknown> {
  return {
    links: [{ id: 'port0', type: 'phy', ethernet_mac_address: network.mac, ...(network.mtu ? { mtu: network.mtu } : {}) }],
    networks: [{
      id: 'network0', type: 'ipv4', link: 'port0', network_id: 'network0',
      ip_address: network.address, netmask: prefixToNetmask(network.prefix),
      routes: network.gateway ? [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: network.gateway }] : [],
    }],
    services: network.dns.map((address) => ({ type: 'dns', address })),
  };
}

function prefixToNetmask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (bits >>> shift) & 0xff).join('.');
}
