import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync, closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A simulated machine for tests: disk files with a GPT and an ext4 filesystem, and a machine description. */
export interface SimulatedMachine {
  dir: string;
  disks: string[];
  machineFile: string;
  mac: string;
  remove(): void;
}

export function randomMac(): string {
  // Locally administered, unicast: 02:xx:...
  const bytes = [0x02, ...Array.from({ length: 5 }, () => Math.floor(Math.random() * 256))];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function createSimulatedMachine(options: { disks?: number; sizeMiB?: number } = {}): SimulatedMachine {
  const dir = mkdtempSync(join(tmpdir(), 'ingot-machine-'));
  const mac = randomMac();
  const disks: string[] = [];
  const sizeMiB = options.sizeMiB ?? 64;
  for (let i = 0; i < (options.disks ?? 2); i += 1) {
    const path = join(dir, `disk${i}.img`);
    closeSync(openSync(path, 'w'));
    truncateSync(path, sizeMiB * 1024 * 1024);
    execFileSync('sgdisk', ['-n', '1:2048:0', '-t', '1:8300', path], { stdio: 'ignore' });
    // ext4 inside partition 1 (offset 1 MiB), as an installed system would have it.
    execFileSync('mkfs.ext4', ['-q', '-F', '-E', `offset=${2048 * 512}`, path, `${(sizeMiB - 2) * 1024}k`], { stdio: 'ignore' });
    disks.push(path);
  }
  const machineFile = join(dir, 'machine.json');
  writeFileSync(machineFile, JSON.stringify({
    interfaces: [{ name: 'eth0', mac_address: mac, ipv4_address: '127.0.0.1' }],
    cpu: { model_name: 'Simulated CPU', count: 2, architecture: 'x86_64' },
    memory: { total: 2 ** 31, physical_mb: 2048 },
    system_vendor: { manufacturer: 'Ingot', product_name: 'Simulated machine', serial_number: 'SIM-0001' },
  }, null, 2));
  return { dir, disks, machineFile, mac, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** What signatures and partition table a disk file still carries, per blkid at the disk and partition offsets. */
export function remainingSignatures(path: string): string[] {
  const found: string[] = [];
  for (const offset of [0, 2048 * 512]) {
    try {
      const out = execFileSync('blkid', ['-p', '-o', 'export', '-O', String(offset), path], { encoding: 'utf8' });
      const type = /^(?:TYPE|PTTYPE)=(.*)$/m.exec(out)?.[1];
      if (type) found.push(`${type}@${offset}`);
    } catch {
      // blkid exits 2 when it finds nothing
    }
  }
  return found;
}
