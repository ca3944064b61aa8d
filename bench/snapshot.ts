/**
 * `npm run bench:snapshot`: the agent's snapshot capture (issue 13) against
 * the shell pipeline that gives the same two digests and a compressed object
 * of the same level, in one run, plus the CPU limit computed from component
 * costs measured in the same run.
 *
 * - The source: bench:deploy's 2 GiB ext4 image (a filesystem with about
 *   700 MiB of files) on a read-only loop device with direct I/O.
 * - The target: Debian's nginx with WebDAV PUT on 127.0.0.1.
 * - The shell: dd iflag=direct | tee (openssl sha256) | zstd -T0 -3 |
 *   tee (openssl sha256) | curl -T - (fifos and `wait`, not tee >(…):
 *   bash does not wait for a process substitution, perf-limits.md 9).
 * - The agent: bench/snapshot-run.ts bundled as the ramdisk runs it, with
 *   plain node, streaming one chunked PUT (and the manifest) to nginx; then,
 *   beside it, in 16 MiB segments to a real Swift all-in-one through temp
 *   URLs, Swift's own CPU counted apart.
 * - The limit: the disk over the larger of (the summed CPU of reading,
 *   compressing, both sha256 and the upload, over 2 cores), the slowest of
 *   them (compression, a frame per thread, counted over the cores), and the
 *   wall time of the read alone and of the upload alone (the device's and
 *   the socket's own pace).
 * Every digest is checked against the image and against what the target
 * stored. Not a timed test: it prints figures; the last line is JSON.
 * BENCH_DIR (default /var/tmp/ingot-bench) caches the image; BENCH_RUNS sets
 * the runs per contender (median, default 3); BENCH_SWIFT=0 leaves Swift out.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundleAgent } from '@ingot/image-build';
import { IMAGE_BYTES, prepareImage, startNginx } from './bench-env.ts';
import { serviceCpuS } from './cpu-accounting.ts';
import { clean, cpuLimit, createMeasure, median, round3, type Measure } from './measure.ts';
import { SOURCE_NODE_ARGS } from '../test/support/run-source.ts';
import { startSwift, type SwiftServer } from '../test/support/swift-server.ts';

const dir = process.env.BENCH_DIR ?? '/var/tmp/ingot-bench';
const runs = Number(process.env.BENCH_RUNS ?? 3);
const port = Number(process.env.BENCH_PORT ?? 18474);
const withSwift = process.env.BENCH_SWIFT !== '0';
const root = fileURLToPath(new URL('..', import.meta.url));
const sh = (command: string) => execFileSync('sh', ['-c', command], { encoding: 'utf8', maxBuffer: 1 << 24 });
const sha256File = (path: string) => sh(`openssl dgst -sha256 -r '${path}'`).split(' ')[0]!;
const mbps = (seconds: number) => IMAGE_BYTES / seconds / 1e6;
const SEGMENT_BYTES = 16 * 1024 * 1024;

const image = prepareImage(dir);
// How full the filesystem is, as ext4 counts it (metadata and journal included).
const fsStats = sh(`dumpe2fs -h '${image.raw}' 2>/dev/null`);
const fsField = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(fsStats)?.[1] ?? NaN);
const fsUsed = 1 - fsField('Free blocks') / fsField('Block count');
const bundle = `${root}/node_modules/.cache/ingot-bench/snapshot-run.mjs`;
mkdirSync(`${root}/node_modules/.cache/ingot-bench`, { recursive: true });
await bundleAgent({ entry: `${root}/bench/snapshot-run.ts`, outfile: bundle });
const uploads = `${dir}/uploads`;
rmSync(uploads, { recursive: true, force: true });
mkdirSync(uploads, { recursive: true });
// nginx's workers (nobody, under a root master) write there.
chmodSync(uploads, 0o777);
const nginx = await startNginx(dir, port, { davDir: 'uploads' });
const source = sh(`losetup --read-only --direct-io=on --show --find '${image.raw}'`).trim();
let swift: SwiftServer | undefined;
/** CPU seconds so far of the Swift all-in-one's processes (found by their state directory on the command line). */
const swiftCpuS = () => {
  if (!swift) return 0;
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(swift.stateDir)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(rest[11]) + Number(rest[12]);
    } catch {
      // exited meanwhile
    }
  }
  return ticks / 100;
};
const measure = createMeasure({ timeFile: `${dir}/time.txt`, serviceCpuS: () => serviceCpuS(nginx.pid) + swiftCpuS() });
try {
  const cost = (argv: string[]) => median(Array.from({ length: runs }, () => measure(argv).costS));
  // Component costs for the limit, measured now.
  const components = JSON.parse(measure(['node', ...SOURCE_NODE_ARGS, `${root}/bench/snapshot-components.ts`, image.raw]).stdout) as { compressS: number; sha256RawS: number; sha256ZstS: number; compressedBytes: number };
  const reads = Array.from({ length: runs }, () => measure(['dd', `if=${source}`, 'iflag=direct', 'bs=4M', 'of=/dev/null', 'status=none']));
  const readS = median(reads.map((m) => m.costS));
  // The source's own pace: O_DIRECT reads of the loop device are bound by the device, not a CPU.
  const readWallS = median(reads.map((m) => m.wallS));
  // The upload of a compressed stream of the same size: curl from the page cache, nginx writing the file.
  const sample = `${dir}/upload-sample.bin`;
  sh(`head -c ${components.compressedBytes} '${image.raw}' > '${sample}'`);
  sh(`cat '${sample}' > /dev/null`);
  const puts = Array.from({ length: runs }, () => measure(['curl', '-sf', '-T', sample, nginx.url('uploads/sample.bin')]));
  const uploadS = median(puts.map((m) => m.costS)) - cost(['sh', '-c', `cat '${sample}' > /dev/null`]);
  const uploadWallS = median(puts.map((m) => m.wallS));
  // Compression runs a frame per thread on every core: a spread stage.
  const limit = cpuLimit(IMAGE_BYTES, [readS, components.sha256RawS, components.sha256ZstS, uploadS], { spread: [components.compressS], wallS: [readWallS, uploadWallS] });
  console.log(`source: ${source} (read-only loop, direct I/O) over ${image.raw}: ext4 ${(fsUsed * 100).toFixed(0)}% full; `
    + `compresses to ${(components.compressedBytes / IMAGE_BYTES * 100).toFixed(1)}% in 4 MiB frames at level 3`);
  console.log(`components (CPU s per 2 GiB): O_DIRECT read ${readS.toFixed(2)}, zstd -3 frames ${components.compressS.toFixed(2)}, sha256 raw ${components.sha256RawS.toFixed(2)}, `
    + `sha256 compressed ${components.sha256ZstS.toFixed(2)}, upload to nginx ${uploadS.toFixed(2)}; wall time of the read ${readWallS.toFixed(2)} s, of the upload ${uploadWallS.toFixed(2)} s; `
    + `limit ${limit.toFixed(0)} MB/s`);

  const shell = () => measure(['bash', '-c', `set -o pipefail; R=${dir}/raw.fifo; Z=${dir}/zst.fifo; rm -f $R $Z; mkfifo $R $Z; `
    + `openssl dgst -sha256 -r < $R > ${dir}/raw.out & openssl dgst -sha256 -r < $Z > ${dir}/zst.out & `
    + `dd if=${source} iflag=direct bs=4M status=none | tee $R | zstd -T0 -3 -q -c | tee $Z | curl -sf -T - ${nginx.url('uploads/shell.zst')}; rc=$?; wait; rm -f $R $Z; exit $rc`]);
  const agent = (target: unknown) => () => measure(['node', bundle, source, JSON.stringify(target)]);
  const putTarget = { type: 'http_put', url: nginx.url('uploads/agent.zst'), manifest_url: nginx.url('uploads/agent.zst.manifest.json') };
  interface Row extends Measure { seconds: number }
  const results = new Map<string, Row[]>();
  const record = (name: string, m: Measure, seconds: number) => results.set(name, [...(results.get(name) ?? []), { ...m, seconds }]);

  for (let round = 0; round < runs; round++) {
    rmSync(`${dir}/raw.out`, { force: true });
    const m = shell();
    const [raw, zst] = [readFileSync(`${dir}/raw.out`, 'utf8').split(' ')[0], readFileSync(`${dir}/zst.out`, 'utf8').split(' ')[0]];
    if (raw !== image.rawSha256) throw new Error(`shell: raw sha256 ${raw}, expected ${image.rawSha256}`);
    if (round === 0 && zst !== sha256File(`${uploads}/shell.zst`)) throw new Error('shell: the compressed sha256 is not that of the stored object');
    record('shell zstd -T0 -3', m, m.wallS);

    rmSync(`${uploads}/agent.zst.manifest.json`, { force: true });
    const a = agent(putTarget)();
    const result = JSON.parse(a.stdout.trim().split('\n').at(-1)!) as { manifest: { raw: { sha256: string }; image: { sha256: string; bytes: number } }; wallS: number };
    if (result.manifest.raw.sha256 !== image.rawSha256) throw new Error(`agent: raw sha256 ${result.manifest.raw.sha256}, expected ${image.rawSha256}`);
    if (round === 0) {
      if (result.manifest.image.sha256 !== sha256File(`${uploads}/agent.zst`)) throw new Error('agent: the compressed sha256 is not that of the stored object');
      if (sh(`zstd -dc '${uploads}/agent.zst' | openssl dgst -sha256 -r`).split(' ')[0] !== image.rawSha256) throw new Error('agent: zstd -d of the stored object is not the disk');
      const stored = JSON.parse(readFileSync(`${uploads}/agent.zst.manifest.json`, 'utf8')) as { image: { sha256: string } };
      if (stored.image.sha256 !== result.manifest.image.sha256) throw new Error('agent: the stored manifest is not the result\'s');
    }
    // The agent's own clock excludes Node's start, which a running agent does not pay per capture.
    record('agent to nginx', a, result.wallS);
  }

  let swiftRow: { mbps: number; swiftCpuS: number; agentCpuS: number; rssMb: number; segments: number } | undefined;
  if (withSwift) {
    swift = await startSwift({ stateDir: `${dir}/swift` });
    await swift.createContainer('bench');
    const count = Math.ceil((IMAGE_BYTES * 1.01 + 65536) / SEGMENT_BYTES) + 1;
    const target = { type: 'swift', segment_size: SEGMENT_BYTES, segment_urls: Array.from({ length: count }, (_, i) => swift!.tempUrl('PUT', `bench/snap.segments/${String(i).padStart(8, '0')}`, 3600)) };
    const before = swiftCpuS();
    const s = agent(target)();
    const swiftS = swiftCpuS() - before;
    const result = JSON.parse(s.stdout.trim().split('\n').at(-1)!) as { manifest: { raw: { sha256: string }; image: { sha256: string } }; segments: number; wallS: number };
    if (result.manifest.raw.sha256 !== image.rawSha256) throw new Error('agent to Swift: raw sha256 differs');
    swiftRow = { mbps: mbps(result.wallS), swiftCpuS: swiftS, agentCpuS: s.costS - swiftS, rssMb: s.rssMb, segments: result.segments };
  }

  const summary = new Map<string, { mbps: number; rssMb: number }>();
  console.log(`\ncontender              MB/s (range)        CPU s  foreign CPU s  clean  peak RSS MB   (median of ${runs}, digests checked)`);
  for (const [name, list] of results) {
    const speeds = list.map((m) => mbps(m.seconds));
    const row = { mbps: mbps(median(list.map((m) => m.seconds))), rssMb: Math.max(...list.map((m) => m.rssMb)) };
    summary.set(name, row);
    console.log(`${name.padEnd(20)} ${row.mbps.toFixed(0).padStart(6)} ${`(${Math.min(...speeds).toFixed(0)}-${Math.max(...speeds).toFixed(0)})`.padEnd(13)} `
      + `${median(list.map((m) => m.costS)).toFixed(2).padStart(7)} ${median(list.map((m) => m.foreignS)).toFixed(2).padStart(14)} `
      + `${`${list.filter(clean).length}/${list.length}`.padStart(6)} ${row.rssMb.toFixed(0).padStart(12)}`);
  }
  if (swiftRow) {
    console.log(`agent to Swift (${swiftRow.segments} segments of 16 MiB, temp URLs): ${swiftRow.mbps.toFixed(0)} MB/s; agent CPU ${swiftRow.agentCpuS.toFixed(2)} s, `
      + `Swift's own CPU ${swiftRow.swiftCpuS.toFixed(2)} s (proxy and object server, on the same 2 cores); peak RSS ${swiftRow.rssMb.toFixed(0)} MB`);
  }
  const agentRow = summary.get('agent to nginx')!;
  const shellRow = summary.get('shell zstd -T0 -3')!;
  console.log(`\nagent vs shell: ${(agentRow.mbps / shellRow.mbps).toFixed(2)}x; fraction of the limit: ${(agentRow.mbps / limit).toFixed(2)}; peak RSS ${agentRow.rssMb.toFixed(0)} MB`);
  console.log(JSON.stringify({
    snapshot_vs_shell: round3(agentRow.mbps / shellRow.mbps),
    snapshot_fraction_of_limit: round3(agentRow.mbps / limit),
    snapshot_peak_rss_mb: Math.round(agentRow.rssMb),
    snapshot_mb_s: Math.round(agentRow.mbps),
    shell_mb_s: Math.round(shellRow.mbps),
    limit_mb_s: Math.round(limit),
    compressed_fraction: round3(components.compressedBytes / IMAGE_BYTES),
    fs_used_fraction: round3(fsUsed),
    ...(swiftRow ? { swift_mb_s: Math.round(swiftRow.mbps), swift_own_cpu_s: round3(swiftRow.swiftCpuS), swift_agent_cpu_s: round3(swiftRow.agentCpuS), swift_peak_rss_mb: Math.round(swiftRow.rssMb) } : {}),
  }));
} finally {
  execFileSync('losetup', ['--detach', source]);
  await swift?.stop();
  await nginx.stop();
}
