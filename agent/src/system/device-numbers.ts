/** Linux's dev_t encoding (glibc's gnu_dev_major / gnu_dev_minor): the major:minor that /sys/dev/block/ is keyed by. */
export function deviceNumbers(rdev: number): { major: number; minor: number } {
  const value = BigInt(rdev);
  const major = Number(((value >> 8n) & 0xfffn) | ((value >> 32n) & 0xfffff000n));
  const minor = Number((value & 0xffn) | ((value >> 12n) & 0xffffff00n));
  return { major, minor };
}
