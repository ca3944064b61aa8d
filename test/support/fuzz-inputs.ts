/**
 * What the parser fuzz properties share: inputs of every shape that outside
 * input may take (odd strings, huge numbers, prototype-pollution keys, deep
 * nesting, mutations of a valid input), and the invariants a parser of outside
 * input keeps (a value or an IngotError with a stable code naming the field,
 * never a TypeError, RangeError or a hang).
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { IngotError, type ErrorCode } from '@ingot/protocol';

/** Keys that change an object's behaviour when written carelessly. */
export const pollutionKeys = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty'] as const;

/** Strings that broke parsers somewhere: empty, blank, control characters, lone surrogates, percent escapes, numbers in disguise, very long. */
export const oddString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.constantFrom(
    '', ' ', '\t', '\n', '\r\n', '\u0000', '\uD800', '\uDFFF', '\u202E', '\uFEFF', 'é', '𝔘', '%', '%zz', '%00', '%E0%A4%A',
    '..', '../../etc/passwd', '/dev/sda', 'null', 'undefined', 'true', 'NaN', 'Infinity', '-0', '1e400', '0x10', '0b1', '00012',
    '9007199254740993', '-1', '4294967296', '[]', '{}', '"', "'", '\\', '*', '?', '#', '&', '=', ',', ':', ';', '<or>', '<in>', 's==',
    ...pollutionKeys,
  ),
  fc.constantFrom('a', '0', ' ', '=', ',', '(', ')', ':', '/', '.').chain((c) => fc.integer({ min: 1_000, max: 20_000 }).map((n) => c.repeat(n))),
);

/** Numbers at the edges: huge, tiny, negative, fractional, unsafe integers, and the ones JSON cannot carry. */
export const oddNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, 1, -1, 0.5, 1e308, -1e308, 5e-324, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53) - 2, Number.NaN, Infinity, -Infinity),
);

/**
 * A value nested `depth` times in arrays and objects (what a hostile JSON body
 * can hold; JSON.parse builds 100,000 levels). fast-check prints it as
 * `nested(<depth>)`: its own printer would overflow the stack on it.
 */
export function nested(depth: number, arraysOnly = false, inner: unknown = 'x'): unknown {
  let value = inner;
  // Arrays only too: String([[...]]) and Number([[...]]) recurse through join and overflow as JSON.stringify does.
  for (let i = 0; i < depth; i += 1) value = arraysOnly || i % 2 ? [value] : { a: value };
  Object.defineProperty(value, fc.toStringMethod, { value: () => `nested(${depth})`, enumerable: false });
  nestedDepth.set(value as object, depth);
  return value;
}
const nestedDepth = new WeakMap<object, number>();

/**
 * JSON text of a generated value, its nested() parts written out as deep JSON
 * text (JSON.stringify would overflow the stack on them; JSON.parse reads them).
 */
export function jsonOf(value: unknown): string {
  const deep: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => {
    const depth = v !== null && typeof v === 'object' ? nestedDepth.get(v) : undefined;
    if (depth === undefined) return typeof v === 'bigint' ? Number(v) : v;
    deep.push(Array.isArray(v) && Array.isArray(v[0]) ? `${'['.repeat(depth)}"x"${']'.repeat(depth)}` : `${'{"a":['.repeat(Math.ceil(depth / 2))}"x"${']}'.repeat(Math.ceil(depth / 2))}`);
    return `\u0000nested${deep.length - 1}\u0000`;
  }) ?? 'null';
  return text.replace(/"\\u0000nested(\d+)\\u0000"/g, (_m, i: string) => deep[Number(i)]!);
}

/** Any JSON-ish value a decoder can produce, with odd leaves and deep nesting now and then. */
export const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: oddString },
  { weight: 2, arbitrary: oddNumber },
  { weight: 1, arbitrary: fc.constantFrom(null, undefined, true, false, [], {}, [null], ['x'], { '': '' }) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 50, max: 12_000 }), fc.boolean()).map(([depth, arraysOnly]) => nested(depth, arraysOnly)) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 2, withNullPrototype: true, withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true, withBoxedValues: true }) },
);

/** Sets own properties, `__proto__` included, as JSON.parse does (an assignment would change the prototype). */
export function withOwn(base: Record<string, unknown>, entries: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of entries) {
    if (value === undefined) delete out[key];
    else Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * A valid object with some of its keys dropped or replaced by odd values
 * (`keys` are the ones worth attacking beyond the object's own), and now and
 * then a prototype-pollution key added.
 */
export function mutated(valid: Record<string, unknown>, keys: readonly string[] = [], values: fc.Arbitrary<unknown> = oddValue): fc.Arbitrary<Record<string, unknown>> {
  const names = [...new Set([...Object.keys(valid), ...keys, ...pollutionKeys])];
  return fc.array(fc.tuple(fc.constantFrom(...names), values), { minLength: 1, maxLength: 3 }).map((changes) => withOwn(valid, changes));
}

/** A secret shaped like Ironic's tokens (43 URL-safe characters) or a password. */
export const secret: fc.Arbitrary<string> = fc.stringMatching(/^[A-Za-z0-9_-]{24,43}$/).map((s) => `S3cr3t${s}`);

/** Wall-clock bound per input: a parser never hangs or backtracks for seconds (generous, for a shared 2-core machine). */
export const PER_INPUT_MS = 2_000;

/**
 * Runs `parse` on one input and checks the outcome: a value (returned), or an
 * IngotError with one of `codes` whose message passes `mentions` (names the
 * field); anything else (TypeError, RangeError, URIError, a plain Error)
 * fails the property, as does a run over PER_INPUT_MS.
 */
export function parsesOrRefuses<T>(parse: () => T, codes: readonly ErrorCode[], mentions?: RegExp | string): { value: T } | { error: IngotError } {
  const started = performance.now();
  let outcome: { value: T } | { error: IngotError };
  try {
    outcome = { value: parse() };
  } catch (error) {
    if (!(error instanceof IngotError)) throw new Error(`threw ${(error as Error)?.constructor?.name ?? typeof error} instead of an IngotError: ${String((error as Error)?.message ?? error).slice(0, 300)}`, { cause: error });
    expect(codes).toContain(error.code);
    if (mentions !== undefined) expect(error.message).toMatch(mentions);
    outcome = { error };
  }
  expect(performance.now() - started).toBeLessThan(PER_INPUT_MS);
  return outcome;
}

/** Same as parsesOrRefuses, for parsers that throw plain Errors by design (a CLI's argument parser). */
export function timed<T>(run: () => T): T {
  const started = performance.now();
  const value = run();
  expect(performance.now() - started).toBeLessThan(PER_INPUT_MS);
  return value;
}

/** Text a file or a body may hold: JSON of any value, deeply nested JSON, cut-off JSON, or no JSON at all. */
export const jsonText: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc.integer({ min: 100, max: 20_000 }).map((depth) => `${'{"links":['.repeat(depth)}1${']}'.repeat(depth)}`),
  fc.jsonValue({ maxDepth: 3 }).chain((value) => {
    const text = JSON.stringify(value);
    return fc.nat(text.length).map((cut) => text.slice(0, cut));
  }),
  oddString,
);
