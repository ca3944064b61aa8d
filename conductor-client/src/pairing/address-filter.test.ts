import { describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { normaliseIpAddress, parseAddressFilter } from './address-filter.ts';

describe('parseAddressFilter', () => {
  it('allows every address when the list is empty', () => {
    expect(parseAddressFilter([]).allows('203.0.113.9')).toBe(true);
    expect(parseAddressFilter(undefined).allows(undefined)).toBe(true);
  });

  it('matches an exact IPv4 address and nothing next to it', () => {
    const filter = parseAddressFilter(['192.0.2.10']);
    expect(filter.allows('192.0.2.10')).toBe(true);
    expect(filter.allows('192.0.2.11')).toBe(false);
  });

  it('matches an IPv4 CIDR at both ends and refuses just outside it', () => {
    const filter = parseAddressFilter(['10.1.0.0/16']);
    expect(filter.allows('10.1.0.0')).toBe(true);
    expect(filter.allows('10.1.255.255')).toBe(true);
    expect(filter.allows('10.2.0.0')).toBe(false);
  });

  it('matches an IPv6 CIDR whatever the case and spelling of the address', () => {
    const filter = parseAddressFilter(['2001:db8:1::/48']);
    expect(filter.allows('2001:DB8:1:0:0:0:0:5')).toBe(true);
    expect(filter.allows('2001:db8:2::5')).toBe(false);
  });

  it('matches an exact IPv6 address given with a zone id or brackets', () => {
    const filter = parseAddressFilter(['fe80::1']);
    expect(filter.allows('fe80::1%eth0')).toBe(true);
    expect(filter.allows('[fe80::1]')).toBe(true);
  });

  it('treats an IPv4-mapped IPv6 peer as its IPv4 address', () => {
    const filter = parseAddressFilter(['127.0.0.1', '10.0.0.0/8']);
    expect(filter.allows('::ffff:127.0.0.1')).toBe(true);
    expect(filter.allows('::ffff:7f00:1')).toBe(true);
    expect(filter.allows('::ffff:10.9.8.7')).toBe(true);
    expect(filter.allows('::ffff:11.0.0.1')).toBe(false);
  });

  it('refuses a missing or non-IP remote address when a list is set', () => {
    const filter = parseAddressFilter(['127.0.0.1']);
    expect(filter.allows(undefined)).toBe(false);
    expect(filter.allows('localhost')).toBe(false);
  });

  it('rejects a malformed entry with INGOT_CONFIG_INVALID', () => {
    for (const entry of ['not-an-ip', '10.0.0.0/33', '2001:db8::/129', '10.0.0.0/x']) {
      let caught: unknown;
      try { parseAddressFilter([entry]); } catch (error) { caught = error; }
      expect(isIngotError(caught, 'INGOT_CONFIG_INVALID'), entry).toBe(true);
    }
  });
});

describe('normaliseIpAddress', () => {
  it('returns undefined for a host name', () => {
    expect(normaliseIpAddress('example.org')).toBeUndefined();
  });
});
