/**
 * `npm run bench:deploy`: Ingot's image writer against the shell pipelines
 * of perf-limits.md 4, onto a loop device, all in one run, plus the CPU limit
 * computed from component costs measured in the same run (perf-limits.md 5).
 * The writer runs as the ramdisk runs it: an esbuild bundle (image-build's
 * settings) under plain `node`. Not a timed test: it prints figures, the last
 * line JSON. BENCH_DIR (default /var/tmp/ingot-bench) caches the images;
 * BENCH_RUNS sets the runs per contender (median reported, default 3).
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bundleAgent } from '@ingot/image-build';
import { attachTarget, IMAGE_BYTES, prepareImage, prepareSeekableImage, prepareSparseImage, startNginx } from './bench-env.ts';
import { serviceCpuS } from './cpu-accounting.ts';
import { clean, cpuLimit, createMeasure, median, round3, type Measure } from './measure.ts';
import { SOURCE_NODE_ARGS } from '../test/support/run-source.ts';

const dir = process.env.BENCH_DIR ?? '/var/tmp/ingot-bench';
const runs = Number(process.env.BENCH_RUNS ?? 3);
const port = Number(process.env.BENCH_PORT ?? 18473);
const root = fileURLToPath(new URL('..', import.meta.url));

function shellPipeline(url: string, compressed: boolean, hasher: 'openssl' | 'sha256sum', device: string): string[] {
  const hash = hasher === 'openssl' ? 'openssl dgst -sha256 -r' : 'sha256sum';
  // A fifo and `wait`, not tee >(…): bash does not wait for a process substitution (perf-limits.md 9).
  const script = `set -o pipefail; F=${dir}/hash.fifo; rm -f $F; mkfifo $F; ${hash} < $F > ${dir}/hash.out & `
    + `curl -sf '${url}' | ${compressed ? 'zstd -dc | ' : ''}tee $F | dd of=${device} bs=4M oflag=direct iflag=fullblock conv=fsync status=none; rc=$?; wait; rm -f $F; exit $rc`;
  return ['bash', '-c', script];
}

const mbps = (seconds: number) => IMAGE_BYTES / seconds / 1e6;

const image = prepareImage(dir);
const sparse = prepareSparseImage(dir);
const seekable = await prepareSeekableImage(dir, image.raw);
const bundle = `${root}/node_modules/.cache/ingot-bench/agent-run.mjs`; // inside node_modules' reach: zstd-napi stays external
mkdirSync(`${root}/node_modules/.cache/ingot-bench`, { recursive: true });
await bundleAgent({ entry: `${root}/bench/agent-run.ts`, outfile: bundle });
execFileSync('sh', ['-c', `cat ${image.raw} ${image.zst} ${sparse.zst} ${seekable.zst} > /dev/null`]);
const nginx = await startNginx(dir, port);
const measure = createMeasure({ timeFile: `${dir}/time.txt`, serviceCpuS: () => serviceCpuS(nginx.pid) });
const target = attachTarget(dir);
try {
  // Component costs for the limit, measured now. The in-process ones time only the work itself.
  const components = JSON.parse(measure(['node', ...SOURCE_NODE_ARGS, `${root}/bench/components.ts`, image.raw, image.zst, seekable.zst]).stdout) as {
    sha256RawS: number; sha256ZstS: number; decompressS: number; decompressedBytes: number; sha256SeekableS: number; decompressSeekableS: number;
  };
  const cost = (argv: string[]) => median(Array.from({ length: runs }, () => measure(argv).costS));
  // Received as the agent receives (onread into a reused buffer, cheaper than curl), less Node's start.
  const receive = (name: string) => ['node', ...SOURCE_NODE_ARGS, `${root}/bench/receive.ts`, name === 'noop' ? 'noop' : nginx.url(name)];
  const startS = cost(receive('noop'));
  const receiveRawS = cost(receive('image.raw')) - startS;
  const receiveZstS = cost(receive('image.raw.zst')) - startS;
  const receiveSeekableS = cost(receive('image.raw.szst')) - startS;
  // dd's own read of the image from the page cache is not the agent's work (its bytes come from the socket, counted in receive).
  const writes = Array.from({ length: runs }, () => measure(['dd', `if=${image.raw}`, `of=${target.path}`, 'bs=4M', 'oflag=direct', 'conv=fsync', 'status=none']));
  const writeS = median(writes.map((m) => m.costS)) - cost(['dd', `if=${image.raw}`, 'of=/dev/null', 'bs=4M', 'status=none']);
  // The device's own pace: the write is bound by the loop device, not a CPU (0.4 CPU s in about 2 s of wall time).
  const writeWallS = median(writes.map((m) => m.wallS));
  /**
   * perf-limits.md 5: the image over the larger of (summed stage CPU / 2 cores), the slowest stage's
   * CPU, and the device's write time (measure.ts cpuLimit). Receive and decompress are separate
   * stages: the agent decompresses in a thread of its own.
   */
  const limit = (stages: number[], wallS = writeWallS) => cpuLimit(IMAGE_BYTES, stages, { wallS: [wallS] });
  // The same, with decompression spread over every core (a many-frame image, decoded a frame per thread).
  const cores = availableParallelism();
  const spreadLimit = (stages: number[], decompressS: number) => cpuLimit(IMAGE_BYTES, stages, { cores, spread: [decompressS], wallS: [writeWallS] });
  const limits = {
    // What the agent must do: digest the file as served (the .zst), decompress, write.
    zst: limit([receiveZstS, components.decompressS, components.sha256ZstS, writeS]),
    raw: limit([receiveRawS, components.sha256RawS, writeS]),
    // perf-limits.md's own definition for zst, which hashes the decompressed image instead (as the shell pipelines do).
    zstImageHash: limit([receiveZstS, components.decompressS, components.sha256RawS, writeS]),
    zstSeekable: spreadLimit([receiveSeekableS, components.sha256SeekableS, writeS], components.decompressSeekableS),
  };
  console.log(`components (CPU s per 2 GiB, incl. nginx and kernel threads): receive raw ${receiveRawS.toFixed(2)}, receive zst ${receiveZstS.toFixed(2)}, zstd decompress ${components.decompressS.toFixed(2)}, `
    + `sha256 image ${components.sha256RawS.toFixed(2)}, sha256 zst ${components.sha256ZstS.toFixed(2)}, O_DIRECT write ${writeS.toFixed(2)} (${writeWallS.toFixed(2)} s of wall time: ${(IMAGE_BYTES / writeWallS / 1e6).toFixed(0)} MB/s); `
    + `seekable zst: receive ${receiveSeekableS.toFixed(2)}, decompress ${components.decompressSeekableS.toFixed(2)} (over ${cores} cores), sha256 ${components.sha256SeekableS.toFixed(2)}`);
  console.log(`limits: zst ${limits.zst.toFixed(0)} MB/s (hashing the image instead: ${limits.zstImageHash.toFixed(0)}), zst_seekable ${limits.zstSeekable.toFixed(0)} MB/s, raw ${limits.raw.toFixed(0)} MB/s; target: ${target.kind} ${target.path}; `
    + `sparse image: zstd ratio ${sparse.ratio.toFixed(0)}x`);

  // Stale data under the image's zero blocks before every attempt: a skipping writer must not leave it there.
  const stale = () => execFileSync('sh', ['-c', `tr '\\0' '\\252' < /dev/zero | dd of=${target.path} bs=4M oflag=direct iflag=fullblock count=${IMAGE_BYTES / (4 << 20)} status=none`]);
  const agent = (name: string, digest: string, skip: 'never' | 'verified', threads?: number) => () => measure(
    [...(threads ? ['env', `BENCH_ZSTD_THREADS=${threads}`] : []), 'node', bundle, nginx.url(name), digest, target.path, skip], skip === 'verified' ? stale : undefined,
  );
  const contenders = [
    { name: 'agent zst', expect: image.zstSha256, onDisk: image.rawSha256, run: agent('image.raw.zst', image.zstSha256, 'never') },
    { name: 'agent raw', expect: image.rawSha256, onDisk: image.rawSha256, run: agent('image.raw', image.rawSha256, 'never') },
    { name: 'agent zst skip0', expect: image.zstSha256, onDisk: image.rawSha256, run: agent('image.raw.zst', image.zstSha256, 'verified') },
    { name: 'agent raw skip0', expect: image.rawSha256, onDisk: image.rawSha256, run: agent('image.raw', image.rawSha256, 'verified') },
    { name: 'agent sparse zst', expect: sparse.zstSha256, onDisk: sparse.rawSha256, run: agent('sparse.raw.zst', sparse.zstSha256, 'never') },
    { name: 'agent zst_seekable', expect: seekable.zstSha256, onDisk: image.rawSha256, run: agent('image.raw.szst', seekable.zstSha256, 'never') },
    // The same with one decoding thread: what the parallel decode is worth.
    { name: 'agent zst_seekable 1t', expect: seekable.zstSha256, onDisk: image.rawSha256, run: agent('image.raw.szst', seekable.zstSha256, 'never', 1) },
    { name: 'shell zst openssl', expect: image.rawSha256, run: () => measure(shellPipeline(nginx.url('image.raw.zst'), true, 'openssl', target.path)) },
    { name: 'shell raw openssl', expect: image.rawSha256, run: () => measure(shellPipeline(nginx.url('image.raw'), false, 'openssl', target.path)) },
    { name: 'shell zst sha256sum', expect: image.rawSha256, run: () => measure(shellPipeline(nginx.url('image.raw.zst'), true, 'sha256sum', target.path)) },
    { name: 'shell raw sha256sum', expect: image.rawSha256, run: () => measure(shellPipeline(nginx.url('image.raw'), false, 'sha256sum', target.path)) },
  ];
  const results = new Map<string, Array<Measure & { seconds: number; skipped: number }>>();
  for (let round = 0; round < runs; round++) {
    for (const contender of contenders) {
      rmSync(`${dir}/hash.out`, { force: true });
      const m = contender.run();
      // The agent's own clock excludes Node start-up, which a resident agent does not pay per deploy.
      const result = contender.name.startsWith('agent') ? JSON.parse(m.stdout.trim().split('\n').at(-1)!) as { digest: { value: string }; wallS: number; skippedZeroBytes: number } : undefined;
      const digest = result ? result.digest.value : readFileSync(`${dir}/hash.out`, 'utf8').split(/\s/)[0];
      if (digest !== contender.expect) throw new Error(`${contender.name}: digest ${digest} is not ${contender.expect}`);
      if ('onDisk' in contender && round === 0) {
        const onDisk = execFileSync('sh', ['-c', `head -c ${IMAGE_BYTES} ${target.path} | openssl dgst -sha256 -r`]).toString().split(' ')[0];
        if (onDisk !== contender.onDisk) throw new Error(`${contender.name} left ${onDisk} on ${target.path}, not ${contender.onDisk}`);
      }
      results.set(contender.name, [...(results.get(contender.name) ?? []), { ...m, seconds: result ? result.wallS : m.wallS, skipped: result?.skippedZeroBytes ?? 0 }]);
    }
  }
  const summary = new Map<string, { mbps: number; range: string; rssMb: number }>();
  console.log(`\ncontender              MB/s (range)        CPU s  foreign CPU s  clean  peak RSS MB   (median of ${runs}, digests checked)`);
  for (const [name, list] of results) {
    const speeds = list.map((m) => mbps(m.seconds));
    const row = { mbps: mbps(median(list.map((m) => m.seconds))), range: `${Math.min(...speeds).toFixed(0)}-${Math.max(...speeds).toFixed(0)}`, rssMb: Math.max(...list.map((m) => m.rssMb)) };
    summary.set(name, row);
    console.log(`${name.padEnd(20)} ${row.mbps.toFixed(0).padStart(6)} ${`(${row.range})`.padEnd(13)} ${median(list.map((m) => m.costS)).toFixed(2).padStart(7)} `
      + `${median(list.map((m) => m.foreignS)).toFixed(2).padStart(14)} ${`${list.filter(clean).length}/${list.length}`.padStart(6)} ${row.rssMb.toFixed(0).padStart(12)}`);
  }
  // With zero blocks skipped the write stage shrinks to the blocks written (the zeroing of the rest is in the agent's time).
  const skippedFraction = median(results.get('agent zst skip0')!.map((m) => m.skipped)) / IMAGE_BYTES;
  const skipLimits = {
    zst: limit([receiveZstS, components.decompressS, components.sha256ZstS, writeS * (1 - skippedFraction)], writeWallS * (1 - skippedFraction)),
    raw: limit([receiveRawS, components.sha256RawS, writeS * (1 - skippedFraction)], writeWallS * (1 - skippedFraction)),
  };
  const get = (name: string) => summary.get(name)!;
  console.log(`\nzero blocks skipped: ${(skippedFraction * 100).toFixed(0)}%; limits with them skipped: zst ${skipLimits.zst.toFixed(0)}, raw ${skipLimits.raw.toFixed(0)} MB/s`);
  console.log(`agent zst vs sha256sum shell: ${(get('agent zst').mbps / get('shell zst sha256sum').mbps).toFixed(2)}x; raw: ${(get('agent raw').mbps / get('shell raw sha256sum').mbps).toFixed(2)}x; `
    + `zst fraction of the image-hash limit: ${(get('agent zst').mbps / limits.zstImageHash).toFixed(2)}`);
  console.log(JSON.stringify({
    zst_vs_openssl: round3(get('agent zst').mbps / get('shell zst openssl').mbps),
    raw_vs_openssl: round3(get('agent raw').mbps / get('shell raw openssl').mbps),
    zst_fraction_of_limit: round3(get('agent zst').mbps / limits.zst),
    raw_fraction_of_limit: round3(get('agent raw').mbps / limits.raw),
    peak_rss_mb: Math.round(Math.max(...[...summary].filter(([name]) => name.startsWith('agent')).map(([, row]) => row.rssMb))),
    zst_skip0_vs_openssl: round3(get('agent zst skip0').mbps / get('shell zst openssl').mbps),
    zst_skip0_fraction_of_limit: round3(get('agent zst skip0').mbps / skipLimits.zst),
    raw_skip0_fraction_of_limit: round3(get('agent raw skip0').mbps / skipLimits.raw),
    sparse_zst_ratio: Math.round(sparse.ratio),
    sparse_zst_rss_mb: Math.round(get('agent sparse zst').rssMb),
    zst_mbps: Math.round(get('agent zst').mbps),
    zst_seekable_mbps: Math.round(get('agent zst_seekable').mbps),
    zst_seekable_1thread_mbps: Math.round(get('agent zst_seekable 1t').mbps),
    zst_seekable_limit_mbps: Math.round(limits.zstSeekable),
    zst_seekable_fraction_of_limit: round3(get('agent zst_seekable').mbps / limits.zstSeekable),
    write_wall_mbps: Math.round(IMAGE_BYTES / writeWallS / 1e6),
  }));
} finally {
  target.detach();
  await nginx.stop();
}
