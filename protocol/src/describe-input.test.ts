import { describe, expect, it } from 'vitest';
import { describeInput } from './describe-input.ts';
import { parseStrictBool } from './strict-bool.ts';

/** A list nested `depth` deep: what a hostile JSON body can carry (JSON.parse builds it). */
const deepList = (depth: number): unknown => JSON.parse(`${'['.repeat(depth)}1${']'.repeat(depth)}`);

describe('describeInput (fuzz finding: error messages built with JSON.stringify)', () => {
  it('shows a list nested 20,000 deep by its kind instead of overflowing the stack as JSON.stringify does', () => {
    const value = deepList(20_000);
    expect(() => JSON.stringify(value)).toThrow(RangeError);
    expect(describeInput(value)).toBe('a list of 1');
    expect(describeInput({ a: value })).toBe('an object');
  });

  it('shows strings quoted and cut to 80 characters, numbers, booleans, null and BigInt as themselves', () => {
    expect(describeInput('x'.repeat(1_000_000))).toBe(`"${'x'.repeat(80)}…"`);
    expect([describeInput(7), describeInput(false), describeInput(null), describeInput(10n), describeInput(undefined)]).toEqual(['7', 'false', 'null', '10', 'undefined']);
  });

  it('never repeats a secret field\'s value, whatever its shape, and hides the secrets of a URL', () => {
    const token = 'S3cr3tS3cr3tS3cr3tS3cr3tS3cr3t';
    for (const value of [token, [token], { [token]: 1 }, { value: token }]) expect(describeInput(value, { secret: true })).not.toContain(token);
    expect(describeInput(`https://h/i.img?temp_url_sig=${token} x`, { url: true })).not.toContain(token);
  });
});

describe('parseStrictBool (fuzz finding: String() of a deep list)', () => {
  it('reads only booleans, strings and numbers: a deep list is no boolean, nor is ["true"] (oslo sees "[\'true\']")', () => {
    expect(parseStrictBool(deepList(20_000))).toBeUndefined();
    expect(parseStrictBool(['true'])).toBeUndefined();
    expect(parseStrictBool({ toString: () => 'true' })).toBeUndefined();
    expect([parseStrictBool('Yes'), parseStrictBool(0), parseStrictBool(true)]).toEqual([true, false, true]);
  });
});
