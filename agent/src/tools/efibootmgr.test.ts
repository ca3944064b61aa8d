import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { efibootmgrCreateArgv, efibootmgrDeleteArgv, parseEfibootmgr } from './efibootmgr.ts';

// Real output of Debian 12's efibootmgr 17 under OVMF (QEMU), captured by fixtures/capture-efibootmgr.sh.
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('efibootmgr', () => {
  it('builds IPA\'s create command: disk, partition number, -w, label and backslashed loader', () => {
    expect(efibootmgrCreateArgv({ disk: '/dev/vda', partition: 1, label: 'ironic1', loader: '\\EFI\\BOOT\\BOOTX64.EFI' }))
      .toEqual(['efibootmgr', '-v', '-c', '-d', '/dev/vda', '-p', '1', '-w', '-L', 'ironic1', '-l', '\\EFI\\BOOT\\BOOTX64.EFI']);
    expect(efibootmgrDeleteArgv('0002')).toEqual(['efibootmgr', '-b', '0002', '-B']);
  });

  it('reads OVMF\'s entries with their device paths, skipping the warning efibootmgr prints for a duplicate label', () => {
    expect(parseEfibootmgr(fixture('efibootmgr-create-again.txt'))).toEqual([
      { number: '0000', active: true, label: 'UiApp', devicePath: 'FvVol(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(462caa21-7614-4503-836e-8ab6f4662331)' },
      { number: '0001', active: true, label: 'ironic1', devicePath: 'HD(1,GPT,5e3c11ae-8712-4fda-a804-73e9684a73d0,0x800,0x32000)/File(\\EFI\\BOOT\\BOOTX64.EFI)' },
      { number: '0002', active: true, label: 'ironic1', devicePath: 'HD(1,GPT,5e3c11ae-8712-4fda-a804-73e9684a73d0,0x800,0x32000)/File(\\EFI\\BOOT\\BOOTX64.EFI)' },
    ]);
  });

  it('reads labels without device paths from the plain listing', () => {
    expect(parseEfibootmgr(fixture('efibootmgr-list-plain.txt')).map((e) => [e.number, e.label, e.devicePath])).toEqual([['0000', 'UiApp', null], ['0001', 'ironic1', null]]);
  });

  it('reads efibootmgr 18\'s space-separated form and inactive entries', () => {
    expect(parseEfibootmgr('Boot0003  debian  HD(1,GPT,aa,0x800,0x100000)/File(\\EFI\\debian\\shimx64.efi)\n')).toEqual([
      { number: '0003', active: false, label: 'debian', devicePath: 'HD(1,GPT,aa,0x800,0x100000)/File(\\EFI\\debian\\shimx64.efi)' },
    ]);
  });
});
