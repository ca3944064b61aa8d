import { describe, expect, it } from 'vitest';
import { createDeviceGuard, devicePathsIn, isPartitionOf } from './device-guard.ts';

describe('the device guard', () => {
  const guard = createDeviceGuard({ mode: 'sandbox', disks: ['/dev/loop3', '/tmp/disk0.img'] });

  it('allows only the given disks and their partitions in sandbox mode', () => {
    expect(guard.allows('/dev/loop3')).toBe(true);
    expect(guard.allows('/dev/loop3p1')).toBe(true);
    expect(guard.allows('/tmp/disk0.img')).toBe(true);
    expect(guard.allows('/dev/loop30')).toBe(false);
    expect(guard.allows('/dev/vda')).toBe(false);
    expect(guard.allows('/tmp/other.img')).toBe(false);
  });

  it('refuses with a code and a message naming the device and the way to allow it', () => {
    expect(() => guard.check('/dev/vda', 'erase')).toThrow(/refusing to erase \/dev\/vda.*--disk/);
  });

  it('allows everything in ramdisk mode', () => {
    expect(createDeviceGuard({ mode: 'ramdisk' }).allows('/dev/vda')).toBe(true);
  });

  it('tells partitions from other disks whatever the naming scheme', () => {
    expect(isPartitionOf('/dev/sda1', '/dev/sda')).toBe(true);
    expect(isPartitionOf('/dev/sdab', '/dev/sda')).toBe(false);
    expect(isPartitionOf('/dev/nvme0n1p2', '/dev/nvme0n1')).toBe(true);
    expect(isPartitionOf('/dev/nvme0n12', '/dev/nvme0n1')).toBe(false);
  });

  it('finds device paths in argv, also after an = sign', () => {
    expect(devicePathsIn(['dd', 'if=/dev/zero', 'of=/dev/vda', '/dev/null', '--force'])).toEqual(['/dev/zero', '/dev/vda', '/dev/null']);
  });
});
