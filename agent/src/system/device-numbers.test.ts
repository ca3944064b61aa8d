import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { deviceNumbers } from './device-numbers.ts';

describe('deviceNumbers', () => {
  it('splits a device number as the kernel encodes it, matching /dev/null (1:3)', () => {
    expect(deviceNumbers(statSync('/dev/null').rdev)).toEqual({ major: 1, minor: 3 });
    // glibc's makedev for major 0x1001, minor 0x345: high major bits at 44, high minor bits at 20.
    const rdev = Number((0x1000n << 32n) | (0x001n << 8n) | (0x300n << 12n) | 0x45n);
    expect(deviceNumbers(rdev)).toEqual({ major: 0x1001, minor: 0x345 });
  });
});
