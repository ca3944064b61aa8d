import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { moduleNameOf, parseShowDepends } from './module-closure.ts';

const output = readFileSync(new URL('./fixtures/show-depends-ext4-nvme-md.txt', import.meta.url), 'utf8');
const modulesDir = '/KROOT/lib/modules/6.1.0-56-amd64';

describe('parseShowDepends', () => {
  it('lists the closure in load order with the softdeps of ext4 (crc32c) before ext4 itself', () => {
    const { files } = parseShowDepends(output, modulesDir);
    expect(files.slice(0, 6)).toEqual([
      'kernel/arch/x86/crypto/crc32c-intel.ko',
      'kernel/crypto/crc32c_generic.ko',
      'kernel/fs/jbd2/jbd2.ko',
      'kernel/fs/mbcache.ko',
      'kernel/lib/crc16.ko',
      'kernel/fs/ext4/ext4.ko',
    ]);
    expect(files.indexOf('kernel/drivers/nvme/host/nvme-core.ko')).toBeLessThan(files.indexOf('kernel/drivers/nvme/host/nvme.ko'));
  });

  it('keeps each module once although modprobe repeats shared dependencies, and drops module options', () => {
    const { files } = parseShowDepends(output, modulesDir);
    expect(files.filter((file) => file.endsWith('crct10dif_common.ko'))).toHaveLength(1);
    expect(new Set(files).size).toBe(files.length);
    expect(files).toContain('kernel/drivers/md/md-mod.ko');
  });

  it('reports built-in modules apart, as nothing to load', () => {
    const { files, builtin } = parseShowDepends('builtin unix\ninsmod /K/lib/modules/r/kernel/fs/fat/fat.ko \n', '/K/lib/modules/r');
    expect(builtin).toEqual(['unix']);
    expect(files).toEqual(['kernel/fs/fat/fat.ko']);
  });

  it('refuses a module path outside the kernel tree it was given', () => {
    expect(() => parseShowDepends('insmod /lib/modules/6.1.0-56-amd64/kernel/fs/fat/fat.ko\n', modulesDir)).toThrow(/outside/);
  });
});

describe('moduleNameOf', () => {
  it('turns a module file into the name modprobe uses, dashes to underscores', () => {
    expect(moduleNameOf('kernel/fs/nls/nls_iso8859-1.ko')).toBe('nls_iso8859_1');
    expect(moduleNameOf('kernel/drivers/md/md-mod.ko')).toBe('md_mod');
    expect(moduleNameOf('kernel/fs/ext4/ext4.ko.zst')).toBe('ext4');
  });
});
