import net from 'node:net';

/** `image_info.proxies` (ipa-protocol.md 9.1): a proxy per URL scheme. */
export interface ImageProxies {
  http: string | null;
  https: string | null;
}

/**
 * The proxy an image URL goes through, or undefined to connect directly: the
 * one for its scheme, unless `no_proxy` lists its host. IPA hands `no_proxy`
 * to requests through the environment (9.1); the entries are read the way
 * curl and requests read that variable:
 * - `*` bypasses the proxy for every host;
 * - `example.com`, `.example.com` and `*.example.com` match that host and its
 *   subdomains, on a label boundary (`badexample.com` does not match);
 * - `host:port` matches only that port;
 * - an IP address or an IPv4/IPv6 CIDR (`10.0.0.0/8`) matches literal IP hosts.
 */
export function proxyFor(proxies: ImageProxies, noProxy: string | null | undefined, url: URL): string | undefined {
  const proxy = url.protocol === 'https:' ? proxies.https : url.protocol === 'http:' ? proxies.http : null;
  if (!proxy) return undefined;
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const entries = (noProxy ?? '').split(',').map((entry) => entry.trim().toLowerCase()).filter(Boolean);
  return entries.some((entry) => bypasses(entry, host, port)) ? undefined : proxy;
}

function bypasses(entry: string, host: string, port: string): boolean {
  if (entry === '*') return true;
  const cidr = /^([^/]+)\/(\d{1,3})$/.exec(entry);
  if (cidr) return net.isIP(host) !== 0 && inCidr(host, cidr[1]!, Number(cidr[2]));
  let name = entry.replace(/^\[|\]$/g, '');
  // host:port (an IPv6 literal has several colons and no port unless bracketed).
  const withPort = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
  if (withPort) {
    if (withPort[2] !== port) return false;
    name = withPort[1]!.replace(/^\[|\]$/g, '');
  }
  name = name.replace(/^\*?\./, '');
  if (net.isIP(name) !== 0 || net.isIP(host) !== 0) return name === host;
  return host === name || host.endsWith(`.${name}`);
}

function inCidr(host: string, network: string, bits: number): boolean {
  const family = net.isIP(network);
  if (family === 0 || family !== net.isIP(host)) return false;
  // An entry like 10.0.0.0/33 matches nothing (curl ignores it); BlockList would throw RangeError on it.
  if (bits > (family === 4 ? 32 : 128)) return false;
  const list = new net.BlockList();
  list.addSubnet(network, bits, family === 4 ? 'ipv4' : 'ipv6');
  return list.check(host, family === 4 ? 'ipv4' : 'ipv6');
}
