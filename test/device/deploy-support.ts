import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createBlockDevices, createDeviceGuard, createLogger, createRealSystem, type System } from '@ingot/agent';
import type { BlockDevices } from '@ingot/agent';
import type { NodeInfo } from '@ingot/protocol';

/** Shared by the partition-image, config-drive and bootloader device tests. */
export const MiB = 1024 * 1024;
export const log = createLogger({ level: process.env.INGOT_TEST_LOG ?? 'silent' });
export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A new sparse disk file of `size` zero bytes in `dir`, under a name of its own. */
export async function sparseDiskFile(dir: string, size: number): Promise<string> {
  const path = join(dir, `disk-${randomBytes(4).toString('hex')}.img`);
  await writeFile(path, '');
  await truncate(path, size);
  return path;
}

/** The config drives of agent/src/image/request/fixtures, made as Ironic makes them (genisoimage -V config-2; mkfs.vfat -n CONFIG-2). */
export const configDriveParam = (kind: 'iso' | 'vfat') =>
  readFileSync(new URL(`../../agent/src/image/request/fixtures/configdrive-${kind}.gz.b64`, import.meta.url), 'utf8').trim();

export { serveFiles } from '../support/serve-files.ts';

/** The agent's real system, guarded to exactly this disk, as the agent runs outside its ramdisk. */
export function sandboxFor(disk: string): { system: System; devices: BlockDevices } {
  const guard = createDeviceGuard({ mode: 'sandbox', disks: [disk] });
  const system = createRealSystem({ guard, log });
  return { system, devices: createBlockDevices({ system, guard }) };
}

export function deployContext(disk: string, node: Partial<NodeInfo> = {}) {
  const { system, devices } = sandboxFor(disk);
  const fullNode: NodeInfo = { uuid: '1be26c0b-03f2-4d4e-9e8c-5f1b5c1b0a07', ...node, instance_info: { root_device: { name: disk }, ...(node.instance_info ?? {}) } };
  return { system, devices, log, node: fullNode, signal: new AbortController().signal, progress: () => {} };
}
