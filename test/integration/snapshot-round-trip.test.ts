/**
 * Snapshots end to end (issue 13) on this machine: the reference conductor
 * and a real agent (auto-TLS, paired by lookup and token) on a simulated
 * machine whose disk holds an installed GPT + ext4 system; a real Swift all
 * in one (temp URLs, static large objects). The conductor signs the segment
 * URLs, the agent captures with direct I/O and uploads, the conductor
 * completes the SLO and stores the manifest; a second machine is deployed
 * from the snapshot, and its disk is the first one byte for byte. Faults go
 * through the fault proxy in front of Swift: a segment refused for good and
 * a 401 mid-capture each end FAILED naming the segment, with nothing left
 * in Swift looking complete and the source disk unchanged.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createReferenceConductor, snapshotDeployImage, type SnapshotReport } from '@ingot/conductor-client/reference-conductor';
import { createSwiftStore } from '@ingot/conductor-client/snapshot';
import type { SnapshotManifest } from '@ingot/protocol';
import { describeFailure } from '@ingot/protocol/cli';
import { createDemoImage, type DemoImage } from '../demo/disk-image.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { startTestAgent, type Cleanups } from '../support/paired-agent.ts';
import { prerequisite } from '../support/prerequisite.ts';
import { createSimulatedMachine, type SimulatedMachine } from '../support/simulated-machine.ts';
import { startSwift, checkSwiftInstalled, type SwiftServer } from '../support/swift-server.ts';

const log = pino({ level: process.env.INGOT_TEST_LOG ?? 'silent' });
const cleanups: Cleanups = [];
afterEach(async () => { for (const cleanup of cleanups.splice(0).reverse()) await cleanup(); });

const MiB = 1024 * 1024;
const NODE = '5a0c7a9e-2f43-4a8e-9d1c-7e3b9f0a1301';
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const rig = prerequisite('the snapshot round trip through Swift', checkSwiftInstalled());

let swift: SwiftServer;
let proxy: FaultProxy;
let image: DemoImage;
let imageDir = '';

/** A machine whose disk0 holds the demo's GPT + ext4 system, as a deployed machine would (written here, by the host) */
function installedMachine(): SimulatedMachine {
  const machine = createSimulatedMachine({ disks: 1, sizeMiB: 64 });
  cleanups.push(() => machine.remove());
  execFileSync('dd', [`if=${image.rawPath}`, `of=${machine.disks[0]}`, 'bs=1M', 'conv=notrunc,fsync', 'status=none']);
  // As a deploy leaves it: the backup GPT at the disk's end.
  execFileSync('sgdisk', ['-e', machine.disks[0]!], { stdio: 'ignore' });
  return machine;
}

const store = (object: string, options: { viaProxy?: boolean } = {}) => createSwiftStore({
  proxyUrl: options.viaProxy ? proxy.url : swift.url, account: swift.account, auth: { token: swift.authToken }, tempUrlKey: swift.tempUrlKey,
  container: 'snapshots', object, segmentSize: 4 * MiB, log,
});

/** The reference conductor snapshots disk0 of `machine` into `target` through a real agent; resolves with the report or the failure. */
async function capture(machine: SimulatedMachine, target: ReturnType<typeof store>) {
  const conductor = await createReferenceConductor({
    port: 0, pollIntervalMs: 100, heartbeatTimeout: 10, log,
    nodes: [{ uuid: NODE, macs: [machine.mac], allowedAddresses: ['127.0.0.1'], snapshot: { store: target, capture: { device: machine.disks[0]! } } }],
  });
  cleanups.push(() => conductor.close());
  const states: string[] = [];
  conductor.on('state', ({ state }) => states.push(state));
  const outcome = conductor.waitForSnapshot(NODE).then(
    (report): { report?: SnapshotReport; error?: Error } => ({ report }),
    (error: unknown): { report?: SnapshotReport; error?: Error } => ({ error: error as Error }),
  );
  await startTestAgent(machine, conductor.url, cleanups, log);
  return { ...(await outcome), states };
}

/** Every object in a container, by name (with the admin token). */
async function listContainer(container: string): Promise<string[]> {
  const response = await fetch(`${swift.url}/v1/${swift.account}/${container}?format=json`, { headers: { 'X-Auth-Token': swift.authToken } });
  if (response.status === 404) return [];
  return ((await response.json()) as Array<{ name: string }>).map((entry) => entry.name);
}

rig.describe('a snapshot through Swift and back', () => {
  beforeAll(async () => {
    imageDir = mkdtempSync(join(tmpdir(), 'ingot-test-image-'));
    [swift, image] = await Promise.all([
      startSwift({ stateDir: join(imageDir, 'swift') }),
      createDemoImage({ dir: imageDir, sizeMiB: 40, randomMiB: 8, textMiB: 8 }),
    ]);
    await swift.createContainer('snapshots');
    proxy = await startFaultProxy({ upstream: swift.url });
  }, 120_000);

  afterAll(async () => {
    await proxy?.stop();
    await swift?.stop();
    if (imageDir) rmSync(imageDir, { recursive: true, force: true });
  });

  it('captures an installed machine\'s disk without changing it, and a second machine deployed from it holds the same bytes', async () => {
    const source = installedMachine();
    const before = sha256(source.disks[0]!);
    const target = store('machine-a');
    const { report, error, states } = await capture(source, target);
    expect(error).toBeUndefined();
    // servicing (the node's state from the start) -> active.
    expect(states).toEqual(['active']);
    expect(sha256(source.disks[0]!)).toBe(before);

    const manifest: SnapshotManifest = await target.readManifest();
    expect(report!.manifest).toEqual(manifest);
    expect(manifest).toMatchObject({
      format: 'ingot-snapshot/1', node_uuid: NODE,
      source: { device: source.disks[0], size_bytes: 64 * MiB, partition_table: { type: 'gpt' }, captured: 'disk' },
      raw: { bytes: 64 * MiB, sha256: before },
      image: { format: 'zstd-seekable', frame_size: 4 * MiB, frames: 16, level: 3 },
    });
    expect(manifest.source.partitions[0]).toMatchObject({ number: 1, start_bytes: MiB, captured: true });
    // The SLO as Swift serves it is the stream the manifest describes; `zstd -d` reads it (the seek table is a skippable frame).
    const stored = Buffer.from(await (await fetch(await target.readUrl(60))).arrayBuffer());
    expect(stored.byteLength).toBe(manifest.image.bytes);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(manifest.image.sha256);
    expect(createHash('sha256').update(execFileSync('zstd', ['-dc'], { input: stored, maxBuffer: 128 * MiB })).digest('hex')).toBe(before);
    expect((await listContainer('snapshots_segments')).filter((name) => name.startsWith('machine-a.segments/'))).toHaveLength(manifest.segments!.count);

    // Machine B: the same disk size, deployed from the snapshot through a temp URL (Range-capable).
    const restored = createSimulatedMachine({ disks: 1, sizeMiB: 64 });
    cleanups.push(() => restored.remove());
    const conductor = await createReferenceConductor({
      port: 0, pollIntervalMs: 100, heartbeatTimeout: 10, log,
      nodes: [{ uuid: NODE, macs: [restored.mac], allowedAddresses: ['127.0.0.1'], rootDevice: { name: restored.disks[0] }, deploy: { image: snapshotDeployImage(manifest, await target.readUrl(600)) } }],
    });
    cleanups.push(() => conductor.close());
    const deployed = conductor.waitForDeployment(NODE);
    await startTestAgent(restored, conductor.url, cleanups, log);
    await deployed.catch((error: unknown) => { throw new Error(describeFailure(error)); });
    expect(sha256(restored.disks[0]!)).toBe(before);
  });

  it('a segment the store refuses for good fails the capture naming it; nothing in Swift looks complete and the disk is unchanged', async () => {
    const source = installedMachine();
    const before = sha256(source.disks[0]!);
    proxy.clearRules();
    proxy.addRule({ method: 'PUT', path: /\/machine-b\.segments\/00000002$/, action: { respond: 503, body: 'the disk is full' } });
    const { error } = await capture(source, store('machine-b', { viaProxy: true }));
    expect(error?.message).toMatch(/segment 2\b/);
    expect(error?.message).toMatch(/503/);
    expect(error?.message).not.toMatch(/temp_url_sig=[0-9a-f]/);
    // Retried alone: segment 2 seen 1 + 4 times, the others once.
    const puts = (index: number) => proxy.requestsFor(`/v1/${swift.account}/snapshots_segments/machine-b.segments/0000000${index}`).filter((r) => r.method === 'PUT');
    expect(puts(2)).toHaveLength(5);
    expect(puts(0)).toHaveLength(1);
    expect(await listContainer('snapshots')).not.toContain('machine-b');
    expect(await listContainer('snapshots')).not.toContain('machine-b.manifest.json');
    expect((await listContainer('snapshots_segments')).filter((name) => name.startsWith('machine-b.'))).toEqual([]);
    expect(sha256(source.disks[0]!)).toBe(before);
  });

  it('a 401 mid-capture (an expired URL) fails at once naming the segment, with no retry', async () => {
    const source = installedMachine();
    const before = sha256(source.disks[0]!);
    proxy.clearRules();
    proxy.addRule({ method: 'PUT', path: /\/machine-c\.segments\/00000003$/, action: { respond: 401, body: '<html><h1>Unauthorized</h1><p>This server could not verify that you are authorized to access the document you requested.</p></html>' } });
    const { error } = await capture(source, store('machine-c', { viaProxy: true }));
    expect(error?.message).toMatch(/segment 3\b/);
    expect(error?.message).toMatch(/401/);
    expect(proxy.requestsFor(`/v1/${swift.account}/snapshots_segments/machine-c.segments/00000003`).filter((r) => r.method === 'PUT')).toHaveLength(1);
    expect(await listContainer('snapshots')).not.toContain('machine-c.manifest.json');
    expect((await listContainer('snapshots_segments')).filter((name) => name.startsWith('machine-c.'))).toEqual([]);
    expect(sha256(source.disks[0]!)).toBe(before);
  });
});
