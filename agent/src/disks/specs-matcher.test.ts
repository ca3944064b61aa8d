import { describe, expect, it } from 'vitest';
import { matchSpec, parseSpec, specOperator } from './specs-matcher.ts';

// Cases in the spirit of oslo.utils' test_specs_matcher.
describe('parseSpec', () => {
  it('prefers the longer operator where pyparsing tries it first: == over =, s<= over s<', () => {
    expect(parseSpec('== 10')).toEqual({ op: '==', operands: ['10'] });
    expect(parseSpec('= 10')).toEqual({ op: '=', operands: ['10'] });
    expect(parseSpec('s<= abc')).toEqual({ op: 's<=', operands: ['abc'] });
    expect(parseSpec('<= 5')).toEqual({ op: '<=', operands: ['5'] });
    expect(parseSpec('<in> abc')).toEqual({ op: '<in>', operands: ['abc'] });
  });

  it('needs no space between the operator and its value', () => {
    expect(parseSpec('s==foo')).toEqual({ op: 's==', operands: ['foo'] });
  });

  it('collects the values of <or> and <all-in>', () => {
    expect(parseSpec('<or> a <or> b <or> c')).toEqual({ op: '<or>', operands: ['a', 'b', 'c'] });
    expect(parseSpec('<all-in> aes mmx')).toEqual({ op: '<all-in>', operands: ['aes', 'mmx'] });
  });

  it('takes a spec without an operator, or an operator without a value, as a plain value', () => {
    expect(specOperator('foo')).toBeNull();
    expect(parseSpec('s==')).toEqual({ op: null, operands: ['s=='] });
  });
});

describe('matchSpec', () => {
  it('compares numerically with the numeric operators, = meaning at least', () => {
    expect(matchSpec(100, '= 60')).toBe(true);
    expect(matchSpec(40, '= 60')).toBe(false);
    expect(matchSpec('100.0', '== 100')).toBe(true);
    expect(matchSpec(5, '!= 6')).toBe(true);
    expect(matchSpec(5, '< 6')).toBe(true);
    expect(matchSpec(6, '> 6')).toBe(false);
    expect(matchSpec(6, '>= 6')).toBe(true);
    expect(matchSpec(7, '<= 6')).toBe(false);
  });

  it('never matches when a side of a numeric comparison is not a number', () => {
    expect(matchSpec('abc', '== 1')).toBe(false);
    expect(matchSpec(1, '>= x')).toBe(false);
  });

  it('compares strings with the s operators', () => {
    expect(matchSpec('2.1.0', 's== 2.1.0')).toBe(true);
    expect(matchSpec('abc', 's!= abd')).toBe(true);
    expect(matchSpec('abc', 's< abd')).toBe(true);
    expect(matchSpec('abc', 's<= abc')).toBe(true);
    expect(matchSpec('abd', 's> abc')).toBe(true);
    expect(matchSpec('abc', 's>= abd')).toBe(false);
  });

  it('tests containment with <in> and <all-in>, and equality with one of the <or> values', () => {
    expect(matchSpec('gcc-12', '<in> gcc')).toBe(true);
    expect(matchSpec('aes sse mmx', '<all-in> aes mmx')).toBe(true);
    expect(matchSpec('aes sse', '<all-in> aes mmx')).toBe(false);
    expect(matchSpec('eggs', '<or> spam <or> eggs')).toBe(true);
    expect(matchSpec('ham', '<or> spam <or> eggs')).toBe(false);
  });

  it('compares a plain value for equality', () => {
    expect(matchSpec('foo', 'foo')).toBe(true);
    expect(matchSpec('foo', 'bar')).toBe(false);
  });
});
