import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { createReferenceConductor, type RamdiskLogs, type ReferenceNodeState } from '@ingot/conductor-client/reference-conductor';
import { isIngotError, type CommandProgress } from '@ingot/protocol';
import { createDemoImage, type DemoImage } from '../demo/disk-image.ts';
import { deployedImageDigest } from '../support/whole-disk-image.ts';
import { createImageServer } from '../demo/image-server.ts';
import { startTestAgent, type Cleanups } from '../support/paired-agent.ts';
import { createSimulatedMachine, remainingSignatures } from '../support/simulated-machine.ts';
import { readSystemLogs } from '../support/system-logs.ts';
import { prerequisite } from '../support/prerequisite.ts';

const log = pino({ level: process.env.INGOT_TEST_LOG ?? 'silent' });
const cleanups: Cleanups = [];
afterEach(async () => { for (const cleanup of cleanups.splice(0).reverse()) await cleanup(); });

const MiB = 1024 * 1024;
const NODE_UUID = '1be26c0b-03f2-4d4e-9e8c-5f1b5c1b0a07';
const missingTools = ['sgdisk', 'mkfs.ext4', 'zstd', 'blkid'].filter((tool) => {
  try { execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }); return false; } catch { return true; }
});
const diskTools = prerequisite('the reference conductor deploy tests',
  missingTools.length > 0 ? `${missingTools.join(', ')} not installed (apt-get install gdisk e2fsprogs zstd util-linux)` : null);

let image: DemoImage;

/** The reference conductor and a real agent (auto-TLS) on one simulated machine with two 64 MiB disks; the image goes to disk1 by a root device hint. */
async function provision(checksum: string, throttleSeconds: number, logsDir?: string) {
  const machine = createSimulatedMachine({ disks: 2 });
  cleanups.push(() => machine.remove());
  // Throttled so the write lasts a few of the agent's 1 s progress ticks and the conductor sees them.
  const images = await createImageServer({ files: { '/disk.img.zst': image.zstPath }, throttleBytesPerSecond: Math.ceil(image.zstBytes / throttleSeconds) });
  cleanups.push(() => images.close());
  const conductor = await createReferenceConductor({
    port: 0, pollIntervalMs: 100, heartbeatTimeout: 10, log, logsDir,
    nodes: [{
      uuid: NODE_UUID, macs: [machine.mac], allowedAddresses: ['127.0.0.1'], rootDevice: { name: machine.disks[1] },
      deploy: { image: { url: `${images.url}/disk.img.zst`, checksum: { algorithm: 'sha256', value: checksum } } },
    }],
  });
  cleanups.push(() => conductor.close());
  const states: ReferenceNodeState[] = [];
  const progress: CommandProgress[] = [];
  const callbackUrls: string[] = [];
  const failedWithLogs: Array<RamdiskLogs | undefined> = [];
  conductor.on('state', ({ state }) => states.push(state));
  conductor.on('heartbeat', ({ callbackUrl }) => callbackUrls.push(callbackUrl));
  conductor.on('progress', (event) => { if (event.phase === 'deploy' && event.progress) progress.push(event.progress); });
  conductor.on('failed', ({ logs }) => failedWithLogs.push(logs));
  await startTestAgent(machine, conductor.url, cleanups, log);
  return { machine, conductor, images, states, progress, callbackUrls, failedWithLogs };
}

diskTools.describe('the reference conductor deploys through a real agent over HTTPS', () => {
  beforeAll(async () => {
    const imageDir = mkdtempSync(join(tmpdir(), 'ingot-test-image-'));
    image = await createDemoImage({ dir: imageDir, sizeMiB: 40, randomMiB: 8, textMiB: 8 });
    return () => rmSync(imageDir, { recursive: true, force: true });
  });

  it('cleans both disks, writes the zstd image to the hinted disk, reports progress, and the host finds the image byte for byte', async () => {
    const { machine, conductor, images, states, progress, callbackUrls } = await provision(image.zstSha256, 3);

    const report = await conductor.waitForDeployment(NODE_UUID);

    expect(callbackUrls[0]).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(states).toEqual(['available', 'deploying', 'active']);
    expect(await deployedImageDigest(machine.disks[1]!, image.rawBytes)).toBe(await deployedImageDigest(image.rawPath, image.rawBytes));
    expect(execFileSync('sgdisk', ['--verify', machine.disks[1]!], { encoding: 'utf8' })).toMatch(/No problems found/);
    // disk0 was cleaned and not written: no GPT, no filesystem left.
    expect(remainingSignatures(machine.disks[0]!)).toEqual([]);
    expect(remainingSignatures(machine.disks[1]!)).toEqual(['gpt@0', 'ext4@1048576']);
    // A GPT image's protective MBR carries no disk signature: the agent reports 0x00000000, as IPA would.
    expect(report).toMatchObject({ rootUuid: '0x00000000', poweredOff: true });
    expect(report.deployResult).toEqual({ result: expect.stringContaining(`written to device ${machine.disks[1]}`) });

    // The agent's command_progress reached the conductor: bytes as served, the total known, never going back.
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.every((p) => p.unit === 'bytes' && p.total === image.zstBytes)).toBe(true);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.done!).toBeGreaterThanOrEqual(progress[i - 1]!.done!);
    expect(progress.some((p) => p.done! > 0 && p.done! < image.zstBytes)).toBe(true);
    expect(progress.at(-1)!.done).toBe(image.zstBytes);
    expect(images.log).toContain('GET /disk.img.zst 200');
  });

  it('ends in deploy failed naming the checksum error when the digest is wrong, and leaves no bootable head on the disk', async () => {
    const logsDir = mkdtempSync(join(tmpdir(), 'ingot-test-deploy-logs-'));
    cleanups.push(() => rmSync(logsDir, { recursive: true, force: true }));
    const { machine, conductor, states, failedWithLogs } = await provision('0'.repeat(64), 1, logsDir);

    const error = await conductor.waitForDeployment(NODE_UUID).catch((e: unknown) => e);

    expect(isIngotError(error, 'INGOT_DEPLOYMENT_FAILED')).toBe(true);
    expect(String(error)).toContain('deploy.write_image failed on the agent');
    expect(isIngotError((error as Error).cause, 'INGOT_IMAGE_CHECKSUM')).toBe(true);
    expect(states).toEqual(['available', 'deploying', 'deploy failed']);
    expect(readFileSync(machine.disks[1]!).subarray(0, MiB).equals(Buffer.alloc(MiB))).toBe(true);
    expect((await conductor.store.get(NODE_UUID))?.tokenHash).toBeUndefined();

    // On failure (Ironic's default, on_failure) the conductor took the real agent's logs before wiping its token.
    expect(failedWithLogs).toHaveLength(1);
    const logs = failedWithLogs[0];
    expect(logs).toMatchObject({ phase: 'deploy', outcome: 'failure', fileName: expect.stringMatching(new RegExp(`^${NODE_UUID}_\\d{4}(-\\d{2}){5}\\.tar\\.gz$`)) });
    expect(readdirSync(logsDir)).toEqual([logs!.fileName]);
    expect(readFileSync(logs!.path!).equals(Buffer.from(logs!.systemLogs, 'base64'))).toBe(true);
    // A sandboxed agent packs a note naming the disks it was given instead of the host's logs.
    expect(readSystemLogs(logs!.systemLogs).get('sandbox')).toContain(machine.disks[1]);
  });
});
