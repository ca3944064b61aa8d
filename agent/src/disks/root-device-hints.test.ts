import { describe, expect, it } from 'vitest';
import { IngotError } from '@ingot/protocol';
import {
  deviceMatchesHints, normalizeStringExpression, parseRootDeviceHints, pythonQuote, rootDeviceHintsOf, selectRootDevice,
} from './root-device-hints.ts';
import { testDisk } from './test-disk.ts';

const disk = testDisk;

/** A machine like those IPA's tests describe: an HDD, two SSDs, an NVMe drive and a small SATADOM. */
const machine = [
  disk('/dev/sda', 1863, { model: 'ST2000NM0055-1V4104', vendor: 'ATA', serial: 'ZC20ABCD', wwn: '0x5000c500a1b2c3d4', rotational: true, tran: 'sata', hctl: '0:0:0:0', byPath: '/dev/disk/by-path/pci-0000:00:17.0-ata-1' }),
  disk('/dev/sdb', 447, { model: 'Samsung SSD 860', vendor: 'ATA', serial: 'S3Z9NB0K123456', wwn: '0x5002538e40a1b2c3', tran: 'sata', hctl: '1:0:0:0' }),
  disk('/dev/sdc', 447, { model: 'Samsung SSD 860', vendor: 'ATA', serial: 'S3Z9NB0K654321', wwn: '0x5002538e40d4e5f6', tran: 'sata', hctl: '2:0:0:0' }),
  disk('/dev/nvme0n1', 894, { model: 'SAMSUNG MZQL2960HCJR-00A07', serial: 'S64FNE0R100200', wwn: 'eui.36344630528002000025384500000001', tran: 'nvme' }),
  disk('/dev/sdd', 2, { model: 'SATADOM-SL 3IE3', vendor: 'ATA', tran: 'sata' }),
];

function error(fn: () => unknown): IngotError {
  try {
    fn();
  } catch (e) {
    if (e instanceof IngotError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('parseRootDeviceHints', () => {
  it('adds s== to string hints and == to size, lower-cases and URL-quotes, and parses booleans strictly', () => {
    expect(parseRootDeviceHints({ model: 'Samsung SSD 860', size: 447, rotational: 'false', name: '/dev/sda' })).toEqual({
      model: 's== samsung%20ssd%20860', size: '== 447', rotational: false, name: 's== /dev/sda',
    });
  });

  it('keeps the operators Ironic users write and quotes each value around them', () => {
    expect(parseRootDeviceHints({ model: '<or> Samsung SSD <or> INTEL', size: '>= 100', serial: '<in> S3Z9' })).toEqual({
      model: '<or> samsung%20ssd <or> intel', size: '>= 100', serial: '<in> s3z9',
    });
  });

  it('returns null for no hints, like an absent root_device', () => {
    expect(parseRootDeviceHints(undefined)).toBeNull();
    expect(parseRootDeviceHints({})).toBeNull();
  });

  it('refuses unknown names, non-string strings, non-positive or non-integer sizes and fuzzy booleans, naming the hint', () => {
    expect(error(() => parseRootDeviceHints({ size: 10, colour: 'red' })).message).toMatch(/"colour" are invalid/);
    expect(error(() => parseRootDeviceHints({ serial: 1234 })).message).toMatch(/"serial" must be a non-empty string/);
    expect(error(() => parseRootDeviceHints({ size: 0 })).message).toMatch(/"size" should be a positive integer/);
    expect(error(() => parseRootDeviceHints({ size: '>= -5' })).message).toMatch(/"size" should be a positive integer/);
    expect(error(() => parseRootDeviceHints({ size: 1.5 })).message).toMatch(/"size" is not an integer/);
    expect(error(() => parseRootDeviceHints({ rotational: 'sometimes' })).message).toMatch(/"rotational" is not a Boolean/);
    expect(error(() => parseRootDeviceHints({ size: 1.5 })).code).toBe('INGOT_INVALID_PARAMS');
  });

  it('quotes as Python urllib does: slashes stay, spaces and colons do not', () => {
    expect(pythonQuote("/dev/disk/by-path/pci-0000:00:17.0-ata-1 (x)!")).toBe('/dev/disk/by-path/pci-0000%3A00%3A17.0-ata-1%20%28x%29%21');
    expect(normalizeStringExpression('  s==  Foo Bar ')).toBe('s== foo%20bar');
  });
});

describe('selectRootDevice', () => {
  it('picks the first disk in lsblk order that matches every hint', () => {
    expect(selectRootDevice(machine, { model: 'Samsung SSD 860' }).name).toBe('/dev/sdb');
    expect(selectRootDevice(machine, { model: 'Samsung SSD 860', serial: 'S3Z9NB0K654321' }).name).toBe('/dev/sdc');
  });

  it('matches the hint dicts operators write in Ironic node properties', () => {
    expect(selectRootDevice(machine, { wwn: '0x5000c500a1b2c3d4' }).name).toBe('/dev/sda');
    expect(selectRootDevice(machine, { size: '>= 800', rotational: false }).name).toBe('/dev/nvme0n1');
    expect(selectRootDevice(machine, { size: '<= 500', tran: 'sata' }).name).toBe('/dev/sdb');
    expect(selectRootDevice(machine, { size: 1863 }).name).toBe('/dev/sda');
    expect(selectRootDevice(machine, { name: '/dev/nvme0n1' }).name).toBe('/dev/nvme0n1');
    expect(selectRootDevice(machine, { hctl: '2:0:0:0' }).name).toBe('/dev/sdc');
    expect(selectRootDevice(machine, { by_path: '/dev/disk/by-path/pci-0000:00:17.0-ata-1' }).name).toBe('/dev/sda');
    expect(selectRootDevice(machine, { model: '<in> mzql2' }).name).toBe('/dev/nvme0n1');
    expect(selectRootDevice(machine, { serial: '<or> nothing <or> S3Z9NB0K654321' }).name).toBe('/dev/sdc');
    expect(selectRootDevice(machine, { model: '<all-in> samsung 860' }).name).toBe('/dev/sdb');
    expect(parseRootDeviceHints({ model: '<all-in> Samsung  860' })).toEqual({ model: '<all-in> samsung 860' });
    expect(selectRootDevice(machine, { rotational: 'yes' }).name).toBe('/dev/sda');
    expect(selectRootDevice(machine, { size: '= 1000' }).name).toBe('/dev/sda');
    expect(selectRootDevice(machine, { model: 's!= st2000nm0055-1v4104', size: '> 447' }).name).toBe('/dev/nvme0n1');
  });

  it('never matches a disk whose attribute is unknown, and matches any of the serials udev and lsblk report', () => {
    const both = [disk('/dev/sda', 100), disk('/dev/sdb', 100, { serial: 'LSBLK1', serials: ['LSBLK1', 'UDEV-SHORT-1'] })];
    expect(selectRootDevice(both, { serial: 'udev-short-1' }).name).toBe('/dev/sdb');
    expect(deviceMatchesHints(both[0]!, parseRootDeviceHints({ model: '<in> x' })!)).toBe(false);
  });

  it('compares size in GiB as a float, so a 100 GB disk is not a 100 GiB one', () => {
    const decimal = [{ ...disk('/dev/sda', 0), size: 100e9 }];
    expect(() => selectRootDevice(decimal, { size: 100 })).toThrow(IngotError);
    expect(selectRootDevice(decimal, { size: '>= 93' }).name).toBe('/dev/sda');
  });

  it('fails with DeviceNotFound naming the hints when nothing matches', () => {
    const e = error(() => selectRootDevice(machine, { serial: 'NOPE' }));
    expect(e).toMatchObject({ code: 'INGOT_DEVICE_NOT_FOUND', status: 404 });
    expect(e.message).toMatch(/\{"serial":"NOPE"\}/);
  });

  it('turns invalid hints into DeviceNotFound, as IPA does, keeping the validation error as the cause', () => {
    const e = error(() => selectRootDevice(machine, { size: 'big' }));
    expect(e.code).toBe('INGOT_DEVICE_NOT_FOUND');
    expect((e.cause as IngotError).code).toBe('INGOT_INVALID_PARAMS');
  });

  it('without hints picks the smallest disk of at least 4 GiB, ties broken by name', () => {
    expect(selectRootDevice(machine, null).name).toBe('/dev/sdb');
    expect(selectRootDevice([disk('/dev/sdz', 8), disk('/dev/sdb', 8), disk('/dev/sda', 3)], {}).name).toBe('/dev/sdb');
    expect(error(() => selectRootDevice([disk('/dev/sda', 3)], null)).code).toBe('INGOT_DEVICE_NOT_FOUND');
  });

  it('never chooses a read-only disk', () => {
    const devices = [disk('/dev/sda', 10, { readOnly: true, model: 'X' }), disk('/dev/sdb', 20, { model: 'X' })];
    expect(selectRootDevice(devices, null).name).toBe('/dev/sdb');
    expect(selectRootDevice(devices, { model: 'x' }).name).toBe('/dev/sdb');
  });
});

describe('rootDeviceHintsOf', () => {
  it('prefers instance_info.root_device over properties.root_device, an empty dict counting as none', () => {
    expect(rootDeviceHintsOf({ instance_info: { root_device: { size: 10 } }, properties: { root_device: { size: 20 } } })).toEqual({ size: 10 });
    expect(rootDeviceHintsOf({ instance_info: { root_device: {} }, properties: { root_device: { size: 20 } } })).toEqual({ size: 20 });
    expect(rootDeviceHintsOf({})).toBeNull();
  });
});

describe('root device hints on hostile values (fuzz findings)', () => {
  it('refuses a hint holding a deep list or a BigInt with a 400 naming the hint, not a RangeError or TypeError', () => {
    const deep = JSON.parse(`${'['.repeat(20_000)}"x"${']'.repeat(20_000)}`) as unknown;
    for (const hints of [{ model: deep }, { rotational: deep }, { size: deep }, { model: { '': [0n] } }]) {
      expect(() => parseRootDeviceHints(hints)).toThrow(IngotError);
      expect(() => parseRootDeviceHints(hints)).toThrow(/root device hint/);
      expect(() => selectRootDevice([disk('/dev/sda', 100)], hints)).toThrow(/INGOT|Device not found/);
    }
  });

  it('quotes a hint holding a lone surrogate as U+FFFD instead of throwing URIError', () => {
    expect(pythonQuote('\udfff')).toBe('%EF%BF%BD');
    expect(parseRootDeviceHints({ model: '\udfff' })).toEqual({ model: 's== %EF%BF%BD' });
  });
});
