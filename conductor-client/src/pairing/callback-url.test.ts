import { describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { parseCallbackUrl } from './callback-url.ts';

describe('parseCallbackUrl', () => {
  it('accepts the bare scheme, host and port that IPA sends, in canonical form', () => {
    expect(parseCallbackUrl('http://192.0.2.10:9999')).toBe('http://192.0.2.10:9999');
    expect(parseCallbackUrl('https://192.0.2.10:9999/')).toBe('https://192.0.2.10:9999');
    expect(parseCallbackUrl('https://[2001:db8::5]:9999')).toBe('https://[2001:db8::5]:9999');
  });

  it.each([
    ['a missing value', undefined],
    ['a number', 9999],
    ['not a URL', 'agent:9999 please'],
    ['another scheme', 'ftp://192.0.2.10:9999'],
    ['no port', 'http://192.0.2.10'],
    ['credentials', 'http://user:pw@192.0.2.10:9999'],
    ['a path', 'http://192.0.2.10:9999/v1'],
    ['a query', 'http://192.0.2.10:9999?x=1'],
    ['an empty query', 'http://192.0.2.10:9999/?'],
    ['a fragment', 'http://192.0.2.10:9999#x'],
  ])('refuses %s with INGOT_CALLBACK_URL_INVALID', (_label, value) => {
    let caught: unknown;
    try { parseCallbackUrl(value); } catch (error) { caught = error; }
    expect(isIngotError(caught, 'INGOT_CALLBACK_URL_INVALID')).toBe(true);
  });
});
