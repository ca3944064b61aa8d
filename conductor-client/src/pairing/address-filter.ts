/**
 * Per-node source-address allow-list for lookup and heartbeat. Ironic 21.4 has
 * no such check (ironic-conductor.md §2); the 2019 PTG agreed to add one so that
 * an intruder on the provisioning network cannot impersonate an agent.
 * Pure: no I/O, no logging.
 */
import { BlockList, isIP } from 'node:net';
import { IngotError } from '@ingot/protocol';

export interface AddressFilter {
  /** The entries the filter was built from, as given. */
  readonly entries: readonly string[];
  /** True when the list is empty (no restriction) or the address matches an entry. */
  allows(address: string | undefined): boolean;
}

type Family = 'ipv4' | 'ipv6';

/**
 * Strips what a socket or a URL may wrap around an address: IPv6 brackets and
 * a zone id (`fe80::1%eth0`). Returns the address and its family, or undefined
 * when it is not an IP address.
 */
export function normaliseIpAddress(raw: string): { address: string; family: Family } | undefined {
  let address = raw.trim();
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  const zone = address.indexOf('%');
  if (zone !== -1) address = address.slice(0, zone);
  const version = isIP(address);
  if (version === 4) return { address, family: 'ipv4' };
  if (version === 6) return { address: address.toLowerCase(), family: 'ipv6' };
  return undefined;
}

function invalid(entry: string, why: string): IngotError {
  return new IngotError('INGOT_CONFIG_INVALID', { details: `allowed address "${entry}": ${why}` });
}

function addEntry(list: BlockList, entry: string): void {
  const slash = entry.indexOf('/');
  const ip = normaliseIpAddress(slash === -1 ? entry : entry.slice(0, slash));
  if (!ip) throw invalid(entry, 'not an IPv4 or IPv6 address or CIDR');
  if (slash === -1) {
    list.addAddress(ip.address, ip.family);
    return;
  }
  const prefixText = entry.slice(slash + 1);
  const max = ip.family === 'ipv4' ? 32 : 128;
  const prefix = Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText) || prefix > max) throw invalid(entry, `prefix length must be 0 to ${max}`);
  list.addSubnet(ip.address, prefix, ip.family);
}

/**
 * Builds a filter from exact addresses and CIDRs, IPv4 or IPv6. node:net's
 * BlockList matches IPv4-mapped IPv6 (`::ffff:127.0.0.1`, which a dual-stack
 * socket reports for IPv4 peers) against IPv4 entries and the reverse.
 * An empty list allows every address. Throws INGOT_CONFIG_INVALID on a bad entry.
 */
export function parseAddressFilter(entries: readonly string[] | undefined): AddressFilter {
  const list = new BlockList();
  const kept = (entries ?? []).map((entry) => entry.trim()).filter((entry) => entry.length > 0);
  for (const entry of kept) addEntry(list, entry);
  return {
    entries: kept,
    allows(address) {
      if (kept.length === 0) return true;
      if (!address) return false;
      const ip = normaliseIpAddress(address);
      return ip !== undefined && list.check(ip.address, ip.family);
    },
  };
}
