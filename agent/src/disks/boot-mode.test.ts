import { describe, expect, it } from 'vitest';
import { chooseBootMode, chooseDiskLabel, parseCapabilities } from './boot-mode.ts';

const node = (instance_info: Record<string, unknown> = {}, properties: Record<string, unknown> = {}) => ({ uuid: 'n', instance_info, properties });

describe('boot mode and disk label of a partition image', () => {
  it('reads capabilities as a dict or as Ironic\'s "key:value,key:value" string', () => {
    expect(parseCapabilities('boot_mode:uefi,secure_boot:true')).toEqual({ boot_mode: 'uefi', secure_boot: 'true' });
    expect(parseCapabilities({ disk_label: 'gpt' })).toEqual({ disk_label: 'gpt' });
    expect(parseCapabilities(null)).toEqual({});
  });

  it('lets secure boot force uefi, then deploy_boot_mode, then capabilities, then image_info, then the ramdisk', () => {
    expect(chooseBootMode(node({ capabilities: { secure_boot: 'true' }, deploy_boot_mode: 'bios' }), { deployBootMode: 'bios' }, 'bios')).toBe('uefi');
    expect(chooseBootMode(node({ deploy_boot_mode: 'bios' }, { capabilities: 'boot_mode:uefi' }), { deployBootMode: null }, 'uefi')).toBe('bios');
    expect(chooseBootMode(node({}, { capabilities: 'boot_mode:uefi' }), { deployBootMode: 'bios' }, 'bios')).toBe('uefi');
    expect(chooseBootMode(node(), { deployBootMode: 'uefi' }, 'bios')).toBe('uefi');
    expect(chooseBootMode(node(), { deployBootMode: null }, 'bios')).toBe('bios');
  });

  it('takes disk_label from the instance capabilities first, and null means the layout\'s default', () => {
    expect(chooseDiskLabel(node({ capabilities: { disk_label: 'msdos' } }, { capabilities: 'disk_label:gpt' }), { diskLabel: 'gpt' })).toBe('msdos');
    expect(chooseDiskLabel(node({}, { capabilities: 'disk_label:gpt' }), { diskLabel: null })).toBe('gpt');
    expect(chooseDiskLabel(node(), { diskLabel: null })).toBeNull();
  });
});
