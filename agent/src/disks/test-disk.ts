import type { BlockDevice } from './block-devices.ts';
import type { HintCandidate } from './root-device-hints.ts';

/** A disk for tests of disk choices (root device hints, RAID plans): a writable SSD of `sizeGiB` unless `extra` says otherwise. */
export function testDisk(name: string, sizeGiB: number, extra: Partial<HintCandidate> = {}): HintCandidate {
  const device: BlockDevice = {
    name, type: 'disk', size: sizeGiB * 1024 ** 3, logicalSectorSize: 512, physicalSectorSize: 4096, rotational: false,
    readOnly: false, model: null, vendor: null, serial: null, wwn: null, tran: null, hctl: null, byPath: null,
  };
  return { ...device, ...extra };
}
