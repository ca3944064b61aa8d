import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseIpAddr } from './ip-addr.ts';

const fixture = readFileSync(new URL('./fixtures/ip-addr.json', import.meta.url), 'utf8');

describe('parseIpAddr', () => {
  it('finds the first IPv4 address and prefers a global IPv6 address over the link-local one in real ip -j addr output', () => {
    expect(parseIpAddr(fixture).get('eth0')).toEqual({ ipv4: '192.0.2.2', ipv6: 'fd00::2' });
  });

  it('reports null addresses for a link without any, and lists every link', () => {
    const addresses = parseIpAddr(fixture);
    expect(addresses.get('ifb0')).toEqual({ ipv4: null, ipv6: null });
    expect([...addresses.keys()]).toEqual(['lo', 'ifb0', 'ifb1', 'eth0']);
  });

  it('falls back to a link-local IPv6 address when it is the only one', () => {
    const json = JSON.stringify([{ ifname: 'eno1', addr_info: [{ family: 'inet6', local: 'fe80::1', scope: 'link' }] }]);
    expect(parseIpAddr(json).get('eno1')).toEqual({ ipv4: null, ipv6: 'fe80::1' });
  });

  it('rejects output that is not a JSON array of links', () => {
    expect(() => parseIpAddr('1: lo: <LOOPBACK>')).toThrow(/not JSON/);
    expect(() => parseIpAddr('{}')).toThrow(/not an array/);
  });
});
