#!/usr/bin/env node
/**
 * Benchmark of the built ramdisk (not a timed test): prints its size by
 * component, then boots it in QEMU three times (TCG, 512 MB, no KVM: the KVM
 * here is kvm-pvm and cannot run a stock kernel) and measures the seconds from
 * QEMU's spawn to the agent's first lookup request reaching a tiny HTTP server
 * on the host. The last line printed is one JSON object.
 *
 * It boots `vmlinux` (the kernel uncompressed, entered through PVH) where the
 * build made one, as VMs would: a bzImage spends seconds of emulated time in
 * firmware and self-decompression before its clock starts. `--kernel vmlinuz`
 * measures what a real server's boot loader loads instead.
 *
 * Usage: npm run bench:ramdisk [-- --dir build/ramdisk] [--boots 3] [--kernel vmlinux|vmlinuz] [--keep-logs]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Manifest } from './manifest.ts';
import { renderSizeTable } from './manifest.ts';

const RAM_MB = 512;
/** The guest reaches the host only through this address (slirp restrict=on + guestfwd). */
const CONDUCTOR_ADDRESS = '10.0.2.100';
const BOOT_TIMEOUT_MS = 120_000;

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: 'build/ramdisk' }, boots: { type: 'string', default: '3' },
    kernel: { type: 'string' }, 'keep-logs': { type: 'boolean' },
  },
});
const dir = resolve(values.dir!);
if (values.kernel !== undefined && values.kernel !== 'vmlinux' && values.kernel !== 'vmlinuz') throw new Error(`--kernel must be vmlinux or vmlinuz, not ${values.kernel}`);
const kernelName = values.kernel ?? (existsSync(join(dir, 'vmlinux')) ? 'vmlinux' : 'vmlinuz');
const boots = Number(values.boots);
const running = new Set<ChildProcess>();
// QEMU is always stopped by its PID, also when the bench fails or is interrupted.
const killAll = () => { for (const child of running) if (child.pid) try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ } };
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => { killAll(); process.exit(130); });

const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

async function bootOnce(index: number, logDir: string): Promise<number> {
  let firstLookup: ((request: IncomingMessage) => void) | undefined;
  const server = createServer((request, response) => {
    if (request.url?.includes('/lookup')) firstLookup?.(request);
    // 404 is what a conductor answers for an unknown node; the agent just retries.
    response.writeHead(404, { 'content-type': 'application/json' }).end('{"error_message":"bench: node not found"}');
  });
  // guestfwd connects when QEMU starts: the server must already listen.
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as AddressInfo).port;
  const serial = join(logDir, `serial-${index}.log`);
  const args = [
    '-accel', 'tcg,thread=multi', '-cpu', 'max', '-m', String(RAM_MB), '-smp', '2',
    '-nodefaults', '-no-reboot', '-display', 'none', '-serial', `file:${serial}`,
    '-kernel', join(dir, kernelName), '-initrd', join(dir, 'initramfs.cpio.zst'),
    '-append', `console=ttyS0 panic=-1 ipa-api-url=http://${CONDUCTOR_ADDRESS}:${port}`,
    '-netdev', `user,id=n0,restrict=on,guestfwd=tcp:${CONDUCTOR_ADDRESS}:${port}-tcp:127.0.0.1:${port}`,
    '-device', 'virtio-net-pci,netdev=n0,romfile=',
  ];
  const started = performance.now();
  const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(qemu);
  let stderr = '';
  qemu.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  try {
    return await new Promise<number>((resolveBoot, reject) => {
      const timer = setTimeout(() => reject(new Error(`boot ${index}: no lookup within ${BOOT_TIMEOUT_MS / 1000} s; console in ${serial}`)), BOOT_TIMEOUT_MS);
      firstLookup = () => { clearTimeout(timer); resolveBoot((performance.now() - started) / 1000); };
      qemu.once('exit', (code) => { clearTimeout(timer); reject(new Error(`boot ${index}: QEMU exited (${code}) before the lookup: ${stderr.trim()}; console in ${serial}`)); });
    });
  } finally {
    if (qemu.pid && qemu.exitCode === null) process.kill(qemu.pid, 'SIGKILL');
    running.delete(qemu);
    server.closeAllConnections();
    server.close();
  }
}

/**
 * Where a boot's time went, on the guest's clock (seconds since the kernel's
 * clock started): /init started, the agent was started, the agent's first
 * log line (after Node's start and the bundle's compile). What is left of the
 * host-measured total before `init_s` is QEMU, firmware and, for a bzImage,
 * the kernel's self-decompression.
 */
function bootPhases(serial: string): { init_s?: number; agent_exec_s?: number; agent_ready_s?: number } {
  const init = /\[\s*(\d+\.\d+)\] Run \/init as init process/.exec(serial);
  const exec = /ingot-init: starting the agent \((\d+\.\d+) s\)/.exec(serial);
  const ready = /"uptimeSeconds":(\d+(?:\.\d+)?)/.exec(serial);
  return {
    ...(init ? { init_s: Number(init[1]) } : {}),
    ...(exec ? { agent_exec_s: Number(exec[1]) } : {}),
    ...(ready ? { agent_ready_s: Number(ready[1]) } : {}),
  };
}

async function main(): Promise<void> {
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  process.stdout.write(`ramdisk ${dir} (${manifest.compression}, kernel ${manifest.kernel.release}, node ${manifest.node.version}, ${manifest.modules.shipped} modules shipped)\n`);
  process.stdout.write(`${renderSizeTable(manifest)}\n`);
  const logDir = await mkdtemp(join(tmpdir(), 'ingot-bench-'));
  const seconds: number[] = [];
  const phases: ReturnType<typeof bootPhases>[] = [];
  try {
    for (let index = 1; index <= boots; index++) {
      const elapsed = await bootOnce(index, logDir);
      seconds.push(Math.round(elapsed * 100) / 100);
      phases.push(bootPhases(await readFile(join(logDir, `serial-${index}.log`), 'utf8').catch(() => '')));
      const phase = phases.at(-1)!;
      process.stdout.write(`boot ${index} (${kernelName}): first lookup after ${elapsed.toFixed(2)} s; guest clock: /init ${phase.init_s ?? '?'} s, agent started ${phase.agent_exec_s ?? '?'} s, agent ready ${phase.agent_ready_s ?? '?'} s\n`);
    }
  } finally {
    if (!values['keep-logs'] && seconds.length === boots) await rm(logDir, { recursive: true, force: true });
    else process.stdout.write(`serial consoles kept in ${logDir}\n`);
  }
  const sorted = [...seconds].sort((a, b) => a - b);
  const breakdown = Object.fromEntries(Object.entries(manifest.components).map(([name, size]) => [name, { raw_mb: mib(size.rawBytes), compressed_mb: mib(size.compressedBytes) }]));
  process.stdout.write(`${JSON.stringify({
    compressed_mb: mib(manifest.outputs.initramfs?.bytes ?? manifest.totals.compressedBytes),
    uncompressed_mb: mib(manifest.totals.rawBytes),
    compression: manifest.compression,
    breakdown,
    first_lookup_s_median: sorted[Math.floor(sorted.length / 2)],
    boots: seconds,
    kernel: kernelName,
    guest_phases_s: phases,
    ram_mb: RAM_MB,
  })}\n`);
}

main().catch((error: unknown) => {
  killAll();
  process.stderr.write(`bench-ramdisk: ${(error as Error).message}\n`);
  process.exit(1);
});
