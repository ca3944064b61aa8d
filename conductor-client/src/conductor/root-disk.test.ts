import { describe, expect, it } from 'vitest';
import { deployedDevice, describeRootDisk, readRootDisk } from './root-disk.ts';

describe('the root disk of a whole-disk deploy, as a person reads it', () => {
  it('names the GPT disk GUID when the agent reports Ingot\'s partition_table and disk_guid', () => {
    const disk = readRootDisk({ 'root uuid': '0x00000000', partition_table: 'gpt', disk_guid: '1b2c3d4e-0000-4000-8000-00000000abcd' });
    expect(disk).toEqual({ rootUuid: '0x00000000', partitionTable: 'gpt', diskGuid: '1b2c3d4e-0000-4000-8000-00000000abcd' });
    expect(describeRootDisk(disk)).toBe('GPT disk 1b2c3d4e-0000-4000-8000-00000000abcd');
  });

  it('reads an empty MBR signature from any IPA agent as a GPT image, not as a failure', () => {
    const disk = readRootDisk({ 'root uuid': '0x00000000' });
    expect(disk).toEqual({ rootUuid: '0x00000000' });
    expect(describeRootDisk(disk)).toBe('no MBR disk identifier (GPT image)');
  });

  it('names a real MBR disk identifier as one, with or without the extension keys', () => {
    expect(describeRootDisk(readRootDisk({ 'root uuid': '0x1234abcd' }))).toBe('MBR disk identifier 0x1234abcd');
    expect(describeRootDisk(readRootDisk({ 'root uuid': '0x1234abcd', partition_table: 'msdos', disk_guid: null }))).toBe('MBR disk identifier 0x1234abcd');
  });

  it('keeps a partition image\'s filesystem UUID as a root uuid, and says when there is none', () => {
    expect(describeRootDisk(readRootDisk({ 'root uuid': '3f1e0c2a-1111-4222-8333-444455556666', partitions: { root: '/dev/sda2' } }))).toBe('root uuid 3f1e0c2a-1111-4222-8333-444455556666');
    expect(describeRootDisk(readRootDisk({}))).toBe('no root uuid reported');
  });

  it('leaves out extension values it does not know rather than trusting them', () => {
    expect(readRootDisk({ 'root uuid': 7, partition_table: 'zfs', disk_guid: 12 })).toEqual({ rootUuid: null });
  });

  it('finds the device in write_image\'s result, as IPA words it', () => {
    expect(deployedDevice({ result: 'prepare_image: image (disk.img.zst) written to device /dev/vdb root_uuid=0x00000000' })).toBe('/dev/vdb');
    expect(deployedDevice({ result: 'image (x) already present on device /tmp/m/disk0.img root_uuid=0x1' })).toBe('/tmp/m/disk0.img');
    expect(deployedDevice(null)).toBeNull();
    expect(deployedDevice({ result: 'done' })).toBeNull();
  });
});
