/**
 * The demo (`npm run demo`): on one machine, with no hardware and no root, the
 * reference conductor and an agent whose machine is simulated (sparse disk
 * files, an inventory described in a file) pair over HTTPS with a one-time
 * token; the conductor runs automated cleaning through the agent, then
 * deploys a whole-disk image generated here (GPT + ext4, zstd-compressed,
 * served over HTTP from 127.0.0.1) as Ironic does, showing a progress bar;
 * the host checks the disk file against the image's digest. Then the
 * deployed machine's disk is snapshotted into a real Swift (all in one on
 * 127.0.0.1, started at the beginning) and restored onto a second simulated
 * machine, whose disk the host compares with the first byte for byte.
 *
 * It checks its input first (INGOT_DEMO_IMAGE_MIB or --image-mib, exit 2),
 * shows progress while it builds the image, and leaves nothing behind on
 * success, failure or Ctrl-C/SIGTERM (exit 130): the image directory, the
 * machine's disk files and the agent's state, the agent stopped first.
 * INGOT_DEMO_KEEP=1 keeps the files and says where they are.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createProgressBar, type ProgressBar } from '@ingot/conductor-client/progress-bar';
import { createReferenceConductor, snapshotDeployImage } from '@ingot/conductor-client/reference-conductor';
import { createSwiftStore } from '@ingot/conductor-client/snapshot';
import { checkSwiftInstalled, startSwift, type SwiftServer } from '../support/swift-server.ts';
import { buildAgentBundle } from '../support/agent-bundle.ts';
import { createSimulatedMachine, remainingSignatures, type SimulatedMachine } from '../support/simulated-machine.ts';
import { createDemoImage } from './disk-image.ts';
import { deployedImageDigest } from '../support/whole-disk-image.ts';
import { createImageServer } from './image-server.ts';
import { createProgram, describeFailure, EXIT, integerIn, Option, runProgram, UsageError } from '@ingot/protocol/cli';
import { describeRootDisk } from '@ingot/conductor-client/reference-conductor';
import type { CommandProgress } from '@ingot/protocol';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const say = (text: string) => process.stdout.write(`${text}\n`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const MiB = 1024 * 1024;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;
const rate = (bytes: number, ms: number) => (ms > 0 ? bytes / MiB / (ms / 1000) : 0);
/** The agent picks the smallest disk of at least 4 GiB when the node has no root device hints (ipa-protocol.md §9.10). */
const DISK_MIB = 4096;
/**
 * The image's size bounds: at least 16 MiB for mkfs.ext4 to lay out a
 * filesystem with a journal (below it fails inside sgdisk or mkfs), at most
 * three quarters of the 4 GiB disk, which /tmp must also hold three times
 * (the files, the raw image, the zstd one).
 */
const IMAGE_MIB = { min: 16, max: 3072, default: 256 };
const SOURCE_UUID = '4c1a5e3e-6b1f-4d8a-9a51-1d1e8e0d0001';
const RESTORED_UUID = '4c1a5e3e-6b1f-4d8a-9a51-1d1e8e0d0002';
const keepFiles = () => Boolean(process.env.INGOT_DEMO_KEEP) && process.env.INGOT_DEMO_KEEP !== '0';

/** The image size: --image-mib, else INGOT_DEMO_IMAGE_MIB, else 256; a bad value is a usage error naming its source and the range. */
function imageMiB(flag: number | undefined): number {
  if (flag !== undefined) return flag;
  const value = process.env.INGOT_DEMO_IMAGE_MIB;
  if (value === undefined || value.trim() === '') return IMAGE_MIB.default;
  try {
    return integerIn(IMAGE_MIB.min, IMAGE_MIB.max)(value);
  } catch (error) {
    throw new UsageError(`INGOT_DEMO_IMAGE_MIB: ${(error as Error).message} (MiB of the image, which must fit the ${DISK_MIB / 1024} GiB simulated disk)`);
  }
}

/** What the demo undoes at its end, in reverse order; each step's failure is reported, not thrown. */
const cleanups: Array<{ what: string; undo: () => void | Promise<void> }> = [];
async function cleanUp(): Promise<void> {
  for (const { what, undo } of cleanups.splice(0).reverse()) {
    try {
      await undo();
    } catch (error) {
      process.stderr.write(`demo: could not remove ${what}: ${(error as Error).message}\n`);
    }
  }
}

/** The image build's progress: one bar per stage, redrawn on a terminal, a line every 2 s otherwise. */
function imageProgress(): { update(progress: CommandProgress): void; finish(): void } {
  let stage: string | undefined;
  let bar: ProgressBar | undefined;
  const finish = () => { bar?.finish(); bar = undefined; };
  return {
    update(progress) {
      if (progress.stage !== stage) {
        finish();
        stage = progress.stage;
        bar = createProgressBar({ output: { write: (text) => process.stdout.write(text), isTTY: process.stdout.isTTY === true, columns: process.stdout.columns }, label: `          ${stage}`, minIntervalMs: 2000 });
      }
      bar?.update(progress);
    },
    finish,
  };
}

function checkTools(): void {
  const missing = ['sgdisk', 'mkfs.ext4', 'wipefs', 'blkid', 'partx', 'zstd'].filter((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new Error(`the demo needs ${missing.join(', ')}: run scripts/demo.sh as root once, or apt-get install -y gdisk e2fsprogs util-linux zstd`);
  }
  const swiftMissing = checkSwiftInstalled();
  if (swiftMissing) throw new Error(`the demo's snapshot needs OpenStack Swift: ${swiftMissing}; run scripts/demo.sh as root once`);
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

async function main(sizeMiB: number, signal: AbortSignal): Promise<void> {
  checkTools();
  say('Ingot demo: a conductor pairs with a simulated machine over HTTPS, cleans its disks and deploys an image, then snapshots it to Swift and restores it onto a second machine\n');
  const imageDir = mkdtempSync(join(tmpdir(), 'ingot-demo-image-'));
  // Swift takes 10-25 s to start: it starts now, for the snapshot at the end.
  const swiftStarting = startSwift({ stateDir: join(imageDir, 'swift'), signal });
  cleanups.push({ what: 'Swift', undo: async () => { await (await swiftStarting.catch(() => undefined))?.stop(); } });
  swiftStarting.catch(() => undefined);
  cleanups.push({ what: imageDir, undo: () => { if (!keepFiles()) rmSync(imageDir, { recursive: true, force: true }); } });
  say(`image     building a ${sizeMiB} MiB GPT disk image in ${imageDir}`);
  const progress = imageProgress();
  const image = await createDemoImage({ dir: imageDir, sizeMiB, signal, onProgress: (sample) => progress.update(sample) }).finally(() => progress.finish());
  say(`image     ${image.rawPath}: ${mib(image.rawBytes)} GPT disk, ext4 "${image.label}" with ${mib(image.contentBytes)} of files (mkfs.ext4 -d)`);
  say(`          ${basename(image.zstPath)}: ${mib(image.zstBytes)} (zstd -3), sha256 ${image.zstSha256}`);
  say(`          built in ${seconds(image.durationMs)}; raw sha256 ${image.rawSha256}`);
  const images = await createImageServer({ files: { [`/${basename(image.zstPath)}`]: image.zstPath } });
  cleanups.push({ what: 'the image server', undo: () => images.close() });
  const imageUrl = `${images.url}/${basename(image.zstPath)}`;
  say(`          served at ${imageUrl}`);

  signal.throwIfAborted();
  const machine = createSimulatedMachine({ disks: 2, sizeMiB: DISK_MIB });
  // The machine's directory holds its disk files and the agent's state (--state-dir) and log.
  cleanups.push({ what: machine.dir, undo: () => { if (!keepFiles()) machine.remove(); } });
  const uuid = SOURCE_UUID;
  say(`machine   ${machine.dir}`);
  say(`          MAC ${machine.mac}; disks ${machine.disks.map((d) => basename(d)).join(', ')} (${DISK_MIB / 1024} GiB sparse files)`);
  for (const disk of machine.disks) say(`          ${basename(disk)}: ${remainingSignatures(disk).join(', ') || 'blank'}`);

  const conductor = await createReferenceConductor({
    port: 0, pollIntervalMs: 250, heartbeatTimeout: 30,
    nodes: [{
      uuid, macs: [machine.mac], allowedAddresses: ['127.0.0.1'],
      // os_hash_value is the digest of the file as served (Glance's), so the compressed one.
      deploy: { image: { url: imageUrl, checksum: { algorithm: 'sha256', value: image.zstSha256 }, diskFormat: 'raw' } },
    }],
    log: pino({ level: 'silent' }),
  });
  cleanups.push({ what: 'the conductor', undo: () => conductor.close() });
  say(`conductor ${conductor.url}  (node ${uuid} enrolled by MAC, lookup allowed from 127.0.0.1 only; no root device hints)\n`);

  // The agent as the ramdisk runs it: the esbuild bundle, with plain node (bundled before the clock starts);
  // `npm run demo -- --agent-bundle <file>` runs another bundle.
  const bundleIndex = process.argv.indexOf('--agent-bundle');
  const entry = bundleIndex > 0 ? resolve(process.argv[bundleIndex + 1] ?? '') : await buildAgentBundle();
  const agentLog = join(machine.dir, 'agent.log');
  const started = Date.now();
  const at = () => seconds(Date.now() - started).padStart(8);
  const agent = startAgent(entry, machine, conductor.url, agentLog);
  say(`agent     pid ${agent.pid}, sandbox mode (only the 2 disk files), log ${agentLog}`);

  let firstHeartbeatMs = 0;
  let cleaningStartedMs = 0;
  let cleaningMs = 0;
  let bar: ProgressBar | undefined;
  let peakRss = 0;
  const sampleRss = setInterval(() => { try { peakRss = Math.max(peakRss, rssMiB(agent.pid)); } catch { /* exited */ } }, 200);
  conductor.on('lookup', ({ tokenIssued }) => say(`${at()}  lookup by MAC: node found, ${tokenIssued ? 'one-time token issued (stored as a hash)' : 'token withheld (******)'}`));
  conductor.on('heartbeat', ({ callbackUrl, first }) => {
    if (!first) return;
    firstHeartbeatMs = Date.now() - started;
    cleaningStartedMs = firstHeartbeatMs;
    say(`${at()}  first heartbeat: agent at ${callbackUrl}, self-signed certificate received and pinned`);
  });
  conductor.on('state', ({ state, previous }) => say(`${at()}  node ${previous ?? '?'} -> ${state}`));
  conductor.on('step-start', ({ phase, step, index, total }) => {
    if (phase === 'clean') return say(`${at()}  clean step ${index + 1}/${total}: ${step.interface}.${step.step} (priority ${step.priority}) started`);
    say(`${at()}  deploy step deploy.write_image: ${imageUrl} -> the agent's root disk (progress: bytes served)`);
    bar = createProgressBar({ output: { write: (text) => process.stdout.write(text), isTTY: process.stdout.isTTY === true }, label: '            served', minIntervalMs: 2000 });
  });
  let lastProgress = '';
  conductor.on('progress', ({ phase, progress }) => {
    if (phase === 'deploy') return bar?.update(progress);
    const line = progress ? `${progress.stage}${progress.total ? ` ${progress.done ?? 0}/${progress.total} ${progress.unit ?? ''}` : ''}${progress.message ? ` (${progress.message})` : ''}` : '';
    if (line && line !== lastProgress) say(`            ${line}`);
    lastProgress = line;
  });
  conductor.on('step-done', ({ phase, step, durationMs }) => {
    if (phase === 'deploy') {
      bar?.finish();
      return say(`${at()}  deploy step write_image succeeded in ${seconds(durationMs)} (downloaded, decompressed, verified, written)`);
    }
    say(`${at()}  clean step ${step.step} succeeded in ${seconds(durationMs)}`);
  });
  conductor.on('done', () => { cleaningMs = Date.now() - started - cleaningStartedMs; });
  conductor.on('failed', () => bar?.finish());

  try {
    const deployed = conductor.waitForDeployment(uuid);
    const interrupted = new Promise<never>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    const outcome = await Promise.race([deployed.then((report) => ({ report })), agent.exited.then((code) => ({ code })), interrupted]);
    if (!('report' in outcome)) throw new Error(`the agent exited with code ${outcome.code} before the deploy finished; see ${agentLog}`);
    const { report } = outcome;
    say(`${at()}  ${report.device ?? 'root disk'}: ${describeRootDisk(report)}; standby.power_off ${report.poweredOff ? 'sent' : 'refused'}`);
    say(`\nnode ${uuid} is ${conductor.state(uuid)}`);

    // The host's own check: the agent chose disk0 (both are 4 GiB, ties go by name) and wrote the image there.
    const verifyStarted = Date.now();
    const target = machine.disks[0]!;
    // The agent moved the image's backup GPT to the 4 GiB disk's end (sgdisk -e), which rewrites the
    // protective MBR's records and the primary GPT header: the digest leaves those two out, sgdisk checks them.
    const [onDisk, expected] = await Promise.all([deployedImageDigest(target, image.rawBytes), deployedImageDigest(image.rawPath, image.rawBytes)]);
    const tableOk = /No problems found/.test(execFileSync('sgdisk', ['--verify', target], { encoding: 'utf8' }));
    const verifyMs = Date.now() - verifyStarted;
    const digestOk = onDisk === expected && tableOk;
    say(`verify    sha256 of the first ${mib(image.rawBytes)} of ${basename(target)} (GPT headers aside): ${onDisk}`);
    say(`          the same of the raw image:                 ${expected}  ${onDisk === expected ? 'OK, identical' : 'MISMATCH'}`);
    say(`          GPT moved to the disk's end, sgdisk --verify: ${tableOk ? 'no problems' : 'PROBLEMS'}`);
    for (const disk of machine.disks) say(`          ${basename(disk)}: ${remainingSignatures(disk).join(', ') || 'no partition table, no filesystem signature'}`);
    if (!digestOk) throw new Error(`the disk does not hold the image: sha256 ${onDisk}, expected ${expected}, GPT ${tableOk ? 'valid' : 'invalid'}; see ${agentLog}`);

    await new Promise((resolveWait) => setTimeout(resolveWait, 500));
    const writeMs = report.writeDurationMs;
    say('\nsummary');
    say(`  image build                ${seconds(image.durationMs)}`);
    say(`  agent start to heartbeat   ${seconds(firstHeartbeatMs)}`);
    say(`  cleaning                   ${seconds(cleaningMs)}`);
    say(`  image write (write_image)  ${seconds(writeMs)}: ${rate(image.rawBytes, writeMs).toFixed(0)} MiB/s written, ${rate(image.zstBytes, writeMs).toFixed(0)} MiB/s served (${mib(image.zstBytes)} zstd -> ${mib(image.rawBytes)})`);
    say(`  host verification         ${seconds(verifyMs)}: digest OK`);
    say(`  total, agent start to active ${seconds(Date.now() - started - verifyMs - 500)}; agent peak RSS ${peakRss.toFixed(0)} MiB (bundled, as in the ramdisk)`);

    // The machine as deployed, snapshotted to Swift and restored onto a second machine.
    clearInterval(sampleRss);
    await agent.stop();
    const snapshot = await snapshotAndRestore({ entry, machine, swift: await swiftStarting, signal });
    process.stdout.write(`${JSON.stringify({
      ...snapshot,
      demo: 'clean+deploy+snapshot+restore', first_heartbeat_s: Number((firstHeartbeatMs / 1000).toFixed(2)), cleaning_s: Number((cleaningMs / 1000).toFixed(2)),
      write_s: Number((writeMs / 1000).toFixed(2)), image_mib: image.rawBytes / MiB, served_mib: Number((image.zstBytes / MiB).toFixed(1)),
      write_mib_per_s: Number(rate(image.rawBytes, writeMs).toFixed(1)), digest_ok: digestOk, agent_peak_rss_mib: Number(peakRss.toFixed(1)),
    })}\n`);
  } finally {
    clearInterval(sampleRss);
    bar?.finish();
  }
}

/**
 * The snapshot half of the demo: a second conductor session (as after a
 * reboot into the ramdisk) has the deployed machine's agent capture disk0
 * into Swift (temp URLs, a static large object, the manifest beside it);
 * then a new machine is deployed from that snapshot, and the host compares
 * both disks byte for byte.
 */
async function snapshotAndRestore(options: { entry: string; machine: SimulatedMachine; swift: SwiftServer; signal: AbortSignal }): Promise<Record<string, unknown>> {
  const { entry, machine, swift, signal } = options;
  const source = machine.disks[0]!;
  const store = createSwiftStore({
    proxyUrl: swift.url, account: swift.account, auth: { token: swift.authToken }, tempUrlKey: swift.tempUrlKey,
    container: 'demo', object: 'machine-a/disk0.img.zst', urlTtlSeconds: 600,
  });
  say(`
snapshot  Swift 2.30 all-in-one at ${swift.url} (account ${swift.account}); disk0 of the deployed machine goes to ${store.location}`);
  const conductor = await createReferenceConductor({
    port: 0, pollIntervalMs: 250, heartbeatTimeout: 30, log: pino({ level: 'silent' }),
    nodes: [{ uuid: SOURCE_UUID, macs: [machine.mac], allowedAddresses: ['127.0.0.1'], snapshot: { store, capture: { device: source } } }],
  });
  cleanups.push({ what: 'the snapshot conductor', undo: () => conductor.close() });
  let bar: ProgressBar | undefined;
  conductor.on('snapshot-progress', ({ event }) => {
    if (event.type === 'prepared') {
      say(`          ${event.urls} temp URLs signed (${mib(event.segmentSize ?? 0)} segments, valid 10 min); snapshot.capture started`);
      bar = createProgressBar({ output: { write: (text) => process.stdout.write(text), isTTY: process.stdout.isTTY === true }, label: '              read', minIntervalMs: 2000 });
    } else if (event.type === 'progress' && event.progress) bar?.update(event.progress);
  });
  const agent = startAgent(entry, machine, conductor.url, join(machine.dir, 'agent-snapshot.log'));
  const started = Date.now();
  const report = await raceAgent(conductor.waitForSnapshot(SOURCE_UUID), agent, signal).finally(() => bar?.finish());
  const captureMs = Date.now() - started;
  await agent.stop();
  const { manifest } = report;
  say(`          captured in ${seconds(captureMs)}: ${mib(manifest.raw.bytes)} read with O_DIRECT -> ${mib(manifest.image.bytes)} stored, ${manifest.image.frames} zstd frames of ${mib(manifest.image.frame_size)} in ${manifest.segments?.count ?? 1} segments`);
  say(`          raw sha256 ${manifest.raw.sha256}; stored sha256 ${manifest.image.sha256}`);
  say(`          manifest ${store.location}.manifest.json: ${manifest.source.partition_table.type} table, partitions ${manifest.source.partitions.map((p) => `${p.number} (${mib(p.size_bytes)})`).join(', ')}`);

  const restored = createSimulatedMachine({ disks: 1, sizeMiB: DISK_MIB });
  cleanups.push({ what: restored.dir, undo: () => { if (!keepFiles()) restored.remove(); } });
  say(`restore   a second machine (MAC ${restored.mac}, one blank 4 GiB disk) deployed from the snapshot through a temp URL`);
  const deploying = await createReferenceConductor({
    port: 0, pollIntervalMs: 250, heartbeatTimeout: 30, log: pino({ level: 'silent' }),
    nodes: [{ uuid: RESTORED_UUID, macs: [restored.mac], allowedAddresses: ['127.0.0.1'], deploy: { image: snapshotDeployImage(manifest, await store.readUrl(600)) } }],
  });
  cleanups.push({ what: 'the restore conductor', undo: () => deploying.close() });
  const restoreAgent = startAgent(entry, restored, deploying.url, join(restored.dir, 'agent.log'));
  const restoreStarted = Date.now();
  const deployed = await raceAgent(deploying.waitForDeployment(RESTORED_UUID), restoreAgent, signal);
  const restoreMs = Date.now() - restoreStarted;
  await restoreAgent.stop();
  say(`          cleaned and written in ${seconds(restoreMs)} (write_image ${seconds(deployed.writeDurationMs)}; frames decoded on every core, checked against the seek table first and the raw sha256 last)`);
  const [a, b] = await Promise.all([fileSha256(source), fileSha256(restored.disks[0]!)]);
  say(`verify    sha256 of all 4 GiB of the first machine's disk0:  ${a}`);
  say(`          the same of the second machine's disk0:          ${b}  ${a === b ? 'OK, identical' : 'MISMATCH'}`);
  if (a !== b) throw new Error(`the restored disk differs from the snapshotted one: sha256 ${b}, expected ${a}; see ${restored.dir}`);
  return {
    snapshot_s: Number((captureMs / 1000).toFixed(2)), snapshot_stored_mib: Number((manifest.image.bytes / MiB).toFixed(1)),
    restore_s: Number((restoreMs / 1000).toFixed(2)), restore_identical: a === b,
  };
}

/** The conductor's verdict, unless the agent exits first or the demo is interrupted. */
async function raceAgent<T>(verdict: Promise<T>, agent: RunningAgent, signal: AbortSignal): Promise<T> {
  const interrupted = new Promise<never>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  const exited = agent.exited.then((code) => { throw new Error(`the agent (pid ${agent.pid}) exited with code ${code} before the conductor was done`); });
  return Promise.race([verdict, exited, interrupted]);
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

interface RunningAgent {
  pid: number;
  /** Resolves with the exit code once the agent exited. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Starts the bundled agent of `machine` against a conductor, its output into `logFile`; stopped by cleanUp unless stopped before. */
function startAgent(entry: string, machine: SimulatedMachine, conductorUrl: string, logFile: string): RunningAgent {
  const child = spawn(process.execPath, [
    entry,
    '--api-url', conductorUrl, '--machine', machine.machineFile,
    ...machine.disks.flatMap((disk) => ['--disk', disk]),
    '--listen-host', '127.0.0.1', '--listen-port', '0', '--advertise-host', '127.0.0.1',
    '--lookup-timeout', '60', '--state-dir', machine.dir,
  ], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const logStream = createWriteStream(logFile, { flags: 'a' });
  child.stdout.pipe(logStream);
  child.stderr.pipe(logStream);
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', resolveExit));
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= stopAgent(child, exited, logStream));
  cleanups.push({ what: `the agent (pid ${child.pid})`, undo: stop });
  return { pid: child.pid!, exited, stop };
}

/**
 * SIGTERM to the agent, SIGKILL after 3 s, then SIGKILL to whatever is left of
 * its process group: the agent runs in a group of its own (detached) because
 * a tool it had started (an sgdisk on a disk file) outlived it. The log
 * stream is closed once the agent has written its last line.
 */
async function stopAgent(agent: ReturnType<typeof spawn>, exited: Promise<unknown>, log: WriteStream): Promise<void> {
  const group = (signal: NodeJS.Signals) => {
    try {
      process.kill(-agent.pid!, signal);
    } catch {
      // the group is gone
    }
  };
  if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolveWait) => setTimeout(resolveWait, 3000))]);
  if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGKILL');
  await exited;
  group('SIGKILL');
  await new Promise((resolveClose) => log.end(resolveClose));
}

/** Runs the demo to its end and cleans up whatever happened: 0, 1 (one line on stderr) or 130 (interrupted). */
async function runDemo(sizeMiB: number): Promise<number> {
  const interrupt = new AbortController();
  const onSignal = (name: NodeJS.Signals) => interrupt.abort(new Error(`interrupted by ${name}`));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let status: number = EXIT.ok;
  try {
    await main(sizeMiB, interrupt.signal);
  } catch (error) {
    if (interrupt.signal.aborted) {
      process.stderr.write(`demo: ${(interrupt.signal.reason as Error).message}; cleaning up\n`);
      status = EXIT.interrupted;
    } else {
      process.stderr.write(`demo failed: ${describeFailure(error)}${keepFiles() ? '' : ' (INGOT_DEMO_KEEP=1 keeps the files, the agent\'s log among them)'}\n`);
      status = EXIT.failed;
    }
  } finally {
    await cleanUp();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (keepFiles()) say('files kept (INGOT_DEMO_KEEP): see the paths above');
  return status;
}

const program = createProgram({
  name: 'demo', version: '0.1.0',
  summary: 'A conductor and a simulated machine\'s agent pair over HTTPS on this machine, clean its disks, deploy a whole-disk image built here, snapshot the disk to Swift and restore it onto a second machine',
  description: [
    'Needs sgdisk, mkfs.ext4, wipefs, blkid, partx, zstd and OpenStack Swift (scripts/demo.sh installs them), and no root when TMPDIR\'s filesystem has user xattrs (ext4, xfs; Swift\'s object server keeps metadata in them).',
    `INGOT_DEMO_IMAGE_MIB sets the image size in MiB, ${IMAGE_MIB.min} to ${IMAGE_MIB.max} (default ${IMAGE_MIB.default}; --image-mib wins). INGOT_DEMO_KEEP=1 keeps the image, the disk files and the agent's log and state; otherwise nothing is left behind, whatever the end.`,
  ].join('\n\n'),
});
program
  .addOption(new Option('--image-mib <mib>', `size of the image in MiB, ${IMAGE_MIB.min} to ${IMAGE_MIB.max} (default: INGOT_DEMO_IMAGE_MIB, else ${IMAGE_MIB.default})`).argParser(integerIn(IMAGE_MIB.min, IMAGE_MIB.max)))
  .addOption(new Option('--agent-bundle <file>', 'run this agent bundle instead of the one built from agent/src (an esbuild build of agent/src/main.ts)'))
  .action(async (options: { imageMib?: number }) => { process.exitCode = await runDemo(imageMiB(options.imageMib)); });
const parsed = await runProgram(program, process.argv.slice(2), { name: 'demo' });
if (parsed !== EXIT.ok) process.exitCode = parsed;
