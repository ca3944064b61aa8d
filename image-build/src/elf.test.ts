import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseReadelf } from './elf.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('parseReadelf', () => {
  it('reads the NEEDED libraries and the interpreter of each file when readelf ran over several files', () => {
    const info = parseReadelf(fixture('readelf-mdadm-nvme.txt'));
    expect([...info.keys()]).toEqual(['/SYSROOT/sbin/mdadm', '/SYSROOT/usr/sbin/nvme']);
    expect(info.get('/SYSROOT/sbin/mdadm')).toEqual({ needed: ['libudev.so.1', 'libc.so.6'], interpreter: '/lib64/ld-linux-x86-64.so.2' });
    expect(info.get('/SYSROOT/usr/sbin/nvme')?.needed).toEqual(['libnvme.so.1', 'libnvme-mi.so.1', 'libjson-c.so.5', 'libz.so.1', 'libc.so.6']);
  });

  it('attributes the output of a single-file run, which has no File: header, to that file', () => {
    const info = parseReadelf(fixture('readelf-sgdisk.txt'), '/SYSROOT/sbin/sgdisk');
    expect(info.get('/SYSROOT/sbin/sgdisk')?.needed).toEqual(['libuuid.so.1', 'libpopt.so.0', 'libstdc++.so.6', 'libm.so.6', 'libgcc_s.so.1', 'libc.so.6']);
  });

  it('gives a statically linked file no libraries and no interpreter', () => {
    const info = parseReadelf('\nThere is no dynamic section in this file.\n', '/bin/busybox-static');
    expect(info.get('/bin/busybox-static')).toEqual({ needed: [] });
  });
});
