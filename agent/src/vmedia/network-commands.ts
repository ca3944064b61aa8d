import { IngotError } from '@ingot/protocol';
import type { NetworkData } from './network-data.ts';

/** A network interface of this machine, as /sys/class/net shows it. */
export interface MachineInterface {
  name: string;
  mac: string;
}

export interface NetworkCommands {
  /** `ip` invocations, in order: links (parents before VLANs), addresses, routes. Idempotent (replace), so a restarted agent can run them again. */
  commands: string[][];
  /** Interfaces whose IPv4 network is `ipv4_dhcp`: DHCP runs there. */
  dhcp: string[];
  /** /etc/resolv.conf, when network_data.json names DNS servers. */
  resolvConf: string | undefined;
  /** Link id → interface name, for the log. */
  interfaces: Record<string, string>;
  /** What was left out and why (DHCPv6, SLAAC), for the log. */
  notes: string[];
}

/** Linux's IFNAMSIZ less the terminating NUL. */
const MAX_IFNAME = 15;

/**
 * Turns network_data.json into `ip` commands for the interfaces this machine
 * has. Physical links are matched by MAC; `source` names the file in errors.
 */
export function planNetworkCommands(data: NetworkData, machine: readonly MachineInterface[], source: string): NetworkCommands {
  const byMac = new Map(machine.map((nic) => [nic.mac.toLowerCase(), nic.name]));
  const existing = new Set(machine.map((nic) => nic.name));
  const interfaces: Record<string, string> = {};
  const linkCommands: string[][] = [];
  const pending = [...data.links];
  // VLANs may be listed before their parent link: resolve in rounds.
  while (pending.length > 0) {
    const index = pending.findIndex((link) => link.kind === 'physical' || interfaces[link.parent!] !== undefined);
    if (index === -1) throw new IngotError('INGOT_CONFIG_INVALID', { details: `${source}: links ${pending.map((link) => `"${link.id}"`).join(', ')} form a VLAN loop` });
    const [link] = pending.splice(index, 1) as [NetworkData['links'][number]];
    let name: string;
    if (link.kind === 'physical') {
      const found = byMac.get(link.mac!);
      if (!found) {
        const known = machine.map((nic) => `${nic.name}=${nic.mac}`).join(', ') || 'none';
        throw new IngotError('INGOT_CONFIG_INVALID', { details: `${source}: link "${link.id}" has ethernet_mac_address ${link.mac}, but no interface of this machine has it (interfaces: ${known})` });
      }
      name = found;
    } else {
      const parent = interfaces[link.parent!]!;
      name = `${parent}.${link.vlanId}`.length <= MAX_IFNAME ? `${parent}.${link.vlanId}` : `vlan${link.vlanId}`;
      if (!existing.has(name)) linkCommands.push(['ip', 'link', 'add', 'link', parent, 'name', name, 'type', 'vlan', 'id', String(link.vlanId)]);
      if (link.mac) linkCommands.push(['ip', 'link', 'set', 'dev', name, 'address', link.mac]);
    }
    if (link.mtu !== undefined) linkCommands.push(['ip', 'link', 'set', 'dev', name, 'mtu', String(link.mtu)]);
    linkCommands.push(['ip', 'link', 'set', 'dev', name, 'up']);
    interfaces[link.id] = name;
  }

  const addressCommands: string[][] = [];
  const routeCommands: string[][] = [];
  const dhcp: string[] = [];
  const notes: string[] = [];
  for (const network of data.networks) {
    const name = interfaces[network.link]!;
    if (network.kind === 'dhcp') {
      if (network.family === 4) dhcp.push(name);
      else notes.push(`network "${network.id}" on ${name}: IPv6 by router advertisement only (no DHCPv6 client in the ramdisk)`);
      continue;
    }
    const family = `-${network.family}`;
    addressCommands.push(['ip', family, 'addr', 'replace', `${network.address}/${network.prefix}`, 'dev', name]);
    for (const route of network.routes) routeCommands.push(['ip', family, 'route', 'replace', route.destination, 'via', route.gateway, 'dev', name]);
  }
  const resolvConf = data.dns.length > 0 ? `${data.dns.map((server) => `nameserver ${server}`).join('\n')}\n` : undefined;
  return { commands: [...linkCommands, ...addressCommands, ...routeCommands], dhcp: [...new Set(dhcp)], resolvConf, interfaces, notes };
}
