import { describe, expect, it } from 'vitest';
import { normaliseMac } from './mac.ts';

describe('normaliseMac', () => {
  it('normalises colon, dash, dotted and bare forms to lower-case colon form', () => {
    for (const form of ['52:54:00:AB:CD:EF', '52-54-00-ab-cd-ef', '5254.00ab.cdef', '525400ABCDEF']) {
      expect(normaliseMac(form)).toBe('52:54:00:ab:cd:ef');
    }
  });

  it('returns undefined for text that is not a MAC address', () => {
    for (const form of ['', '52:54:00:ab:cd', '52:54-00:ab:cd:ef', 'zz:54:00:ab:cd:ef']) expect(normaliseMac(form)).toBeUndefined();
  });
});
