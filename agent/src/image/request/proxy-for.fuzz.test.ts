import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fuzz } from '../../../../test/support/fuzz.ts';
import { oddString, timed } from '../../../../test/support/fuzz-inputs.ts';
import { proxyFor } from './proxy-for.ts';

/** no_proxy entries near what people write: hosts, wildcards, ports, IPs, CIDRs with any prefix length, junk. */
const entry = fc.oneof(
  oddString,
  fc.domain(),
  fc.ipV4(),
  fc.ipV6(),
  fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain(), oddString), fc.oneof(fc.integer({ min: 0, max: 999 }), oddString)).map(([ip, bits]) => `${ip}/${bits}`),
  fc.tuple(fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6().map((ip) => `[${ip}]`)), fc.integer({ min: 0, max: 99999 })).map(([host, port]) => `${host}:${port}`),
  fc.constantFrom('*', '.example.com', '*.example.com', '[::1]', '::1', '/', '1.2.3.4/', '/24'),
);
const url = fc.oneof(
  fc.webUrl({ withQueryParameters: true }),
  fc.tuple(fc.constantFrom('http', 'https'), fc.oneof(fc.ipV4(), fc.ipV6().map((ip) => `[${ip}]`)), fc.option(fc.integer({ min: 1, max: 65535 }))).map(([scheme, host, port]) => `${scheme}://${host}${port ? `:${port}` : ''}/img`),
);

it('chooses the proxy or a direct connection for any image URL and any no_proxy text, never throwing', async () => {
  await fuzz('proxyFor on any no_proxy', 200, fc.property(url, fc.array(entry, { maxLength: 5 }), fc.constantFrom(', ', ',', ' ,'), (target, entries, separator) => {
    const proxies = { http: 'http://proxy:3128', https: 'http://proxy:3128' };
    const chosen = timed(() => proxyFor(proxies, entries.join(separator), new URL(target)));
    expect([undefined, 'http://proxy:3128']).toContain(chosen);
    if (entries.includes('*')) expect(chosen).toBeUndefined();
  }));
});
