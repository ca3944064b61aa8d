import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fuzz } from '../../../test/support/fuzz.ts';
import { oddString, oddValue, parsesOrRefuses, timed } from '../../../test/support/fuzz-inputs.ts';
import { normaliseIpAddress, parseAddressFilter } from './address-filter.ts';
import { parseCallbackUrl } from './callback-url.ts';
import { normaliseMac } from './mac.ts';

const bytes = fc.uint8Array({ minLength: 6, maxLength: 6 });
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0'));

it('normalises a MAC in every syntax Ironic takes to aa:bb:cc:dd:ee:ff, and anything else to undefined', async () => {
  await fuzz('normaliseMac round trip and any text', 150, fc.property(bytes, fc.constantFrom(':', '-', 'dotted', 'bare'), fc.boolean(), oddString, (mac, style, upper, junk) => {
    const parts = hex(mac);
    let text = style === 'dotted' ? [0, 4, 8].map((i) => parts.join('').slice(i, i + 4)).join('.') : style === 'bare' ? parts.join('') : parts.join(style);
    if (upper) text = text.toUpperCase();
    expect(normaliseMac(` ${text} `)).toBe(parts.join(':'));
    const other = timed(() => normaliseMac(junk));
    if (other !== undefined) expect(other).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  }));
});

const ip = fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4().map((v4) => `::ffff:${v4}`));
const entry = fc.oneof(ip, fc.tuple(ip, fc.oneof(fc.integer({ min: -1, max: 200 }).map(String), oddString)).map(([a, p]) => `${a}/${p}`), oddString, ip.map((a) => `[${a}]`));

it('builds an address filter from any entries or refuses naming the entry, and then judges any peer address without throwing', async () => {
  await fuzz('parseAddressFilter on any entries and peers', 150, fc.property(fc.array(entry, { maxLength: 4 }), fc.oneof(ip, oddString, ip.map((a) => `${a}%eth0`)), (entries, peer) => {
    const outcome = parsesOrRefuses(() => parseAddressFilter(entries), ['INGOT_CONFIG_INVALID'], /allowed address/);
    if (!('value' in outcome)) return;
    const allowed = timed(() => outcome.value.allows(peer));
    expect(typeof allowed).toBe('boolean');
    // An exact entry always lets its own address in.
    const exact = normaliseIpAddress(peer);
    if (exact) expect(parseAddressFilter([...entries, peer]).allows(peer)).toBe(true);
  }));
});

it('accepts only scheme://host:port as callback_url, in canonical form, refusing anything else by name', async () => {
  await fuzz('parseCallbackUrl on any value', 150, fc.property(
    fc.oneof(oddValue, fc.webUrl({ withQueryParameters: true, withFragments: true }),
      fc.tuple(fc.constantFrom('http', 'https', 'ftp', 'HTTP', 'javascript'), fc.oneof(fc.ipV4(), fc.ipV6().map((v6) => `[${v6}]`), fc.domain(), oddString), fc.oneof(fc.integer({ min: 0, max: 70_000 }).map(String), oddString), fc.constantFrom('', '/', '/x', '?q', '#f', '@h'))
        .map(([scheme, host, port, tail]) => `${scheme}://${host}:${port}${tail}`)),
    (raw) => {
      const outcome = parsesOrRefuses(() => parseCallbackUrl(raw), ['INGOT_CALLBACK_URL_INVALID'], /callback_url/);
      if ('value' in outcome) {
        expect(outcome.value).toMatch(/^https?:\/\/[^/?#@]+:\d+$/);
        expect(parseCallbackUrl(outcome.value)).toBe(outcome.value);
      }
    },
  ));
});
