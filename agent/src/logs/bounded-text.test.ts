import { describe, expect, it } from 'vitest';
import { keepTail } from './bounded-text.ts';

describe('keepTail', () => {
  it('returns a text within its budget unchanged', () => {
    expect(keepTail('one\ntwo\n', 100)).toEqual({ text: 'one\ntwo\n', truncated: false });
  });

  it('keeps whole lines from the end within the budget and says what it cut', () => {
    const text = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const bounded = keepTail(text, 120);
    expect(bounded.truncated).toBe(true);
    expect(Buffer.byteLength(bounded.text)).toBeLessThanOrEqual(120);
    const [note, ...lines] = bounded.text.split('\n');
    expect(note).toMatch(new RegExp(`^\\[ingot: truncated, kept the last \\d+ of ${Buffer.byteLength(text)} bytes\\]$`));
    expect(lines.at(-2)).toBe('line 99');
    expect(lines.every((line) => line === '' || /^line \d+$/.test(line))).toBe(true);
  });

  it('drops the partial first line of a text that was already read from the middle of a larger file', () => {
    expect(keepTail('en=half a line\nwhole line\n', 1000, { bytes: 5000, partial: true })).toEqual({
      text: '[ingot: truncated, kept the last 11 of 5000 bytes]\nwhole line\n',
      truncated: true,
    });
  });
});
