/** iproute2's JSON form of `ip addr`: one object per link with its `addr_info`. */
export const ipAddrArgv = ['ip', '-j', 'addr'] as const;

/** The addresses an inventory reports for one interface (6.2 `ipv4_address`, `ipv6_address`). */
export interface InterfaceAddresses {
  ipv4: string | null;
  ipv6: string | null;
}

interface IpLink {
  ifname?: unknown;
  addr_info?: unknown;
}

interface IpAddrInfo {
  family?: unknown;
  local?: unknown;
  scope?: unknown;
}

/**
 * Maps each interface name to its first IPv4 and first IPv6 address. For
 * IPv6 a non-link-local address is preferred: the conductor cannot reach a
 * link-local one without knowing the interface.
 */
export function parseIpAddr(json: string): Map<string, InterfaceAddresses> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new Error(`ip -j addr printed something that is not JSON: ${json.slice(0, 80)}`, { cause: error });
  }
  if (!Array.isArray(parsed)) throw new Error('ip -j addr printed JSON that is not an array of links');
  const result = new Map<string, InterfaceAddresses>();
  for (const link of parsed as IpLink[]) {
    if (typeof link?.ifname !== 'string') continue;
    const infos = Array.isArray(link.addr_info) ? (link.addr_info as IpAddrInfo[]) : [];
    const of = (family: string): IpAddrInfo[] =>
      infos.filter((info) => info?.family === family && typeof info.local === 'string' && info.local !== '');
    const v4 = of('inet');
    const v6 = of('inet6');
    const v6Routable = v6.find((info) => info.scope !== 'link');
    result.set(link.ifname, {
      ipv4: (v4[0]?.local as string | undefined) ?? null,
      ipv6: ((v6Routable ?? v6[0])?.local as string | undefined) ?? null,
    });
  }
  return result;
}
