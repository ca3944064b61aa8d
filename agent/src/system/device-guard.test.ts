import { describe, expect, it } from 'vitest';
import { refusal } from '../testing.ts';
import { createDeviceGuard, isPartitionOf, pathsIn, type PathUse } from './device-guard.ts';

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

  it('finds every absolute path in argv, also after an = sign, /dev/disk/by-* links included', () => {
    expect(pathsIn(['dd', 'if=/dev/zero', 'of=/dev/vda', '/dev/null', '--force', '/tmp/link', 'relative/path', '/dev/disk/by-id/wwn-0x5000c500a1b2c3d4']))
      .toEqual(['/dev/zero', '/dev/vda', '/dev/null', '/tmp/link', '/dev/disk/by-id/wwn-0x5000c500a1b2c3d4']);
  });
});

describe('the device guard, judging a path the real System resolved', () => {
  const guard = createDeviceGuard({ mode: 'sandbox', disks: ['/dev/loop3', '/tmp/disk0.img', '/dev/disk/by-id/given'] });
  const use = (path: string, resolved: string, kind: PathUse['kind'], isBlockDevice = resolved.startsWith('/dev/')): PathUse => ({ path, resolved, isBlockDevice, kind, action: 'write to' });
  const verdict = (candidate: PathUse, aliases: readonly string[] = []) => {
    try {
      guard.checkUse(candidate, aliases);
      return 'allowed';
    } catch (error) {
      return (error as { code?: string }).code ?? String(error);
    }
  };

  it('judges a /dev/disk/by-* link or a link in /tmp by the device it leads to, wherever it is named', () => {
    for (const kind of ['device', 'write', 'argument'] as const) {
      expect(verdict(use('/dev/disk/by-id/other', '/dev/sda', kind))).toBe('INGOT_DEVICE_NOT_ALLOWED');
      expect(verdict(use('/tmp/innocent', '/dev/sda', kind))).toBe('INGOT_DEVICE_NOT_ALLOWED');
      expect(verdict(use('/dev/disk/by-id/mine', '/dev/loop3', kind))).toBe('allowed');
      expect(verdict(use('/tmp/link-part', '/dev/loop3p2', kind))).toBe('allowed');
    }
  });

  it('refuses a block device node outside /dev that is not a given disk, and names both paths', () => {
    const error = refusal(() => guard.checkUse(use('/tmp/x/node', '/tmp/x/node', 'argument', true), []));
    expect(error.code).toBe('INGOT_DEVICE_NOT_ALLOWED');
    expect(refusal(() => guard.checkUse(use('/tmp/link', '/dev/sda', 'argument'), [])).message).toMatch(/refusing to write to \/tmp\/link \(\/dev\/sda\)/);
  });

  it('counts a given disk under the name its own link resolves to', () => {
    expect(verdict(use('/dev/sdb', '/dev/sdb', 'device'))).toBe('INGOT_DEVICE_NOT_ALLOWED');
    expect(verdict(use('/dev/sdb', '/dev/sdb', 'device'), ['/dev/sdb'])).toBe('allowed');
    expect(verdict(use('/dev/sdb1', '/dev/sdb1', 'device'), ['/dev/sdb'])).toBe('allowed');
  });

  it('lets tools have plain files and harmless devices, but opens as a disk only what was given', () => {
    expect(verdict(use('/tmp/image.qcow2', '/tmp/image.qcow2', 'argument'))).toBe('allowed');
    expect(verdict(use('/tmp/null-link', '/dev/null', 'argument'))).toBe('allowed');
    expect(verdict(use('/dev', '/dev', 'argument', false))).toBe('allowed'); // bound into a chroot, not a device
    expect(verdict(use('/tmp/other.img', '/tmp/other.img', 'device'))).toBe('INGOT_DEVICE_NOT_ALLOWED');
    expect(verdict(use('/tmp/disk-link', '/tmp/disk0.img', 'device'))).toBe('allowed');
  });

  it('never writes the host kernel\'s /proc or /sys in sandbox mode, also through a link, but may read and name them', () => {
    expect(verdict(use('/proc/sysrq-trigger', '/proc/sysrq-trigger', 'write', false))).toBe('INGOT_DEVICE_NOT_ALLOWED');
    expect(verdict(use('/tmp/trigger', '/proc/sysrq-trigger', 'write', false))).toBe('INGOT_DEVICE_NOT_ALLOWED');
    expect(verdict(use('/sys/block/sda/device/delete', '/sys/devices/pci0000:00/delete', 'write', false))).toBe('INGOT_DEVICE_NOT_ALLOWED');
    expect(verdict(use('/tmp/system-file', '/tmp/system-file', 'write', false))).toBe('allowed');
    expect(verdict(use('/proc/cmdline', '/proc/cmdline', 'argument', false))).toBe('allowed');
    expect(verdict(use('/process/x', '/process/x', 'write', false))).toBe('allowed');
  });

  it('decides nothing in ramdisk mode: the machine is the agent\'s', () => {
    const ramdisk = createDeviceGuard({ mode: 'ramdisk' });
    expect(() => ramdisk.checkUse(use('/proc/sysrq-trigger', '/proc/sysrq-trigger', 'write', false), [])).not.toThrow();
    expect(() => ramdisk.checkUse(use('/tmp/link', '/dev/sda', 'device'), [])).not.toThrow();
  });
});
