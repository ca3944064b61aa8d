/**
 * `npm run bench:deploy`: Ingot's image writer against the shell pipelines
 * of perf-limits.md 4, raw and zstd, onto a loop device, all in one run, plus
 * the CPU limit computed from component speeds measured in the same run
 * (perf-limits.md 5). Not a timed test: it prints figures, the last line JSON.
 * BENCH_DIR (default /var/tmp/ingot-bench) caches the image; BENCH_RUNS sets
 * the runs per contender (median reported, default 3).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { attachTarget, IMAGE_BYTES, prepareImage, startNginx } from './bench-env.ts';

const dir = process.env.BENCH_DIR ?? '/var/tmp/ingot-bench';
const runs = Number(process.env.BENCH_RUNS ?? 3);
const port = Number(process.env.BENCH_PORT ?? 18473);
const root = fileURLToPath(new URL('..', import.meta.url));

interface Measure { wallS: number; cpuS: number; machineCpuS: number; rssMb: number; stdout: string }

/** Busy CPU seconds of the whole machine so far (nginx, kworkers and softirq included). */
function machineBusyS(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return (fields.reduce((a, b) => a + b, 0) - idle) / 100;
}

/** Runs argv under GNU time: wall, user+sys of the process tree, peak RSS of its largest process. */
function measure(argv: string[]): Measure {
  const timeFile = `${dir}/time.txt`;
  const busy = machineBusyS();
  const started = process.hrtime.bigint();
  const child = spawnSync('/usr/bin/time', ['-v', '-o', timeFile, ...argv], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const machineCpuS = machineBusyS() - busy;
  if (child.status !== 0) throw new Error(`${argv.join(' ')} failed (${child.status}): ${child.stderr}`);
  const report = readFileSync(timeFile, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}: ([\\d.]+)`).exec(report)?.[1] ?? NaN);
  return { wallS, cpuS: field('User time \\(seconds\\)') + field('System time \\(seconds\\)'), machineCpuS, rssMb: field('Maximum resident set size \\(kbytes\\)') / 1024, stdout: child.stdout };
}

function shellPipeline(url: string, compressed: boolean, hasher: 'openssl' | 'sha256sum', device: string): string[] {
  const hash = hasher === 'openssl' ? 'openssl dgst -sha256 -r' : 'sha256sum';
  // A fifo and `wait`, not tee >(…): bash does not wait for a process substitution (perf-limits.md 9).
  const script = `set -o pipefail; F=${dir}/hash.fifo; rm -f $F; mkfifo $F; ${hash} < $F > ${dir}/hash.out & `
    + `curl -sf '${url}' | ${compressed ? 'zstd -dc | ' : ''}tee $F | dd of=${device} bs=4M oflag=direct iflag=fullblock conv=fsync status=none; rc=$?; wait; rm -f $F; exit $rc`;
  return ['bash', '-c', script];
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mbps = (seconds: number) => IMAGE_BYTES / seconds / 1e6;

const image = prepareImage(dir);
execFileSync('sh', ['-c', `cat ${image.raw} ${image.zst} > /dev/null`]);
const nginx = await startNginx(dir, port);
const target = attachTarget(dir);
try {
  // Component speeds for the limit, measured now, on this machine's current load.
  const components = JSON.parse(measure(['node', '--import', 'tsx', `${root}/bench/components.ts`, image.raw, image.zst]).stdout) as { sha256RawS: number; sha256ZstS: number; decompressS: number; decompressedBytes: number };
  const receiveRawS = median(Array.from({ length: runs }, () => measure(['curl', '-sf', '-o', '/dev/null', nginx.url('image.raw')]).machineCpuS));
  const receiveZstS = median(Array.from({ length: runs }, () => measure(['curl', '-sf', '-o', '/dev/null', nginx.url('image.raw.zst')]).machineCpuS));
  const writeS = median(Array.from({ length: runs }, () => measure(['dd', `if=${image.raw}`, `of=${target.path}`, 'bs=4M', 'oflag=direct', 'conv=fsync', 'status=none']).machineCpuS));
  const limit = (stages: number[]) => IMAGE_BYTES / Math.max(stages.reduce((a, b) => a + b, 0) / 2, ...stages) / 1e6;
  const limits = {
    // What the agent must do: digest the file as served (the .zst), decompress, write.
    zst: limit([receiveZstS + components.decompressS, components.sha256ZstS, writeS]),
    raw: limit([receiveRawS, components.sha256RawS, writeS]),
    // perf-limits.md's definition for zst, which hashes the decompressed image instead.
    zstImageHash: limit([receiveZstS + components.decompressS, components.sha256RawS, writeS]),
  };
  console.log(`components (CPU s per 2 GiB): receive raw ${receiveRawS.toFixed(2)}, receive zst ${receiveZstS.toFixed(2)}, zstd decompress ${components.decompressS.toFixed(2)}, `
    + `sha256 image ${components.sha256RawS.toFixed(2)}, sha256 zst ${components.sha256ZstS.toFixed(2)}, O_DIRECT write ${writeS.toFixed(2)} (machine-wide)`);
  console.log(`limits: zst ${limits.zst.toFixed(0)} MB/s (hashing the image instead: ${limits.zstImageHash.toFixed(0)}), raw ${limits.raw.toFixed(0)} MB/s; target: ${target.kind} ${target.path}`);

  const contenders = [
    { name: 'agent zst', expect: image.zstSha256, run: () => measure(['node', '--import', 'tsx', `${root}/bench/agent-run.ts`, nginx.url('image.raw.zst'), image.zstSha256, target.path]) },
    { name: 'agent raw', expect: image.rawSha256, run: () => measure(['node', '--import', 'tsx', `${root}/bench/agent-run.ts`, nginx.url('image.raw'), image.rawSha256, target.path]) },
    { name: 'shell zst openssl', expect: image.rawSha256, run: () => measure(shellPipeline(nginx.url('image.raw.zst'), true, 'openssl', target.path)) },
    { name: 'shell raw openssl', expect: image.rawSha256, run: () => measure(shellPipeline(nginx.url('image.raw'), false, 'openssl', target.path)) },
    { name: 'shell zst sha256sum', expect: image.rawSha256, run: () => measure(shellPipeline(nginx.url('image.raw.zst'), true, 'sha256sum', target.path)) },
    { name: 'shell raw sha256sum', expect: image.rawSha256, run: () => measure(shellPipeline(nginx.url('image.raw'), false, 'sha256sum', target.path)) },
  ];
  const results = new Map<string, Array<Measure & { seconds: number }>>();
  for (let round = 0; round < runs; round++) {
    for (const contender of contenders) {
      rmSync(`${dir}/hash.out`, { force: true });
      const m = contender.run();
      // The agent's own clock excludes Node and tsx start-up, which a resident agent does not pay per deploy.
      const agent = contender.name.startsWith('agent') ? JSON.parse(m.stdout.trim().split('\n').at(-1)!) as { digest: { value: string }; wallS: number } : undefined;
      const digest = agent ? agent.digest.value : readFileSync(`${dir}/hash.out`, 'utf8').split(/\s/)[0];
      if (digest !== contender.expect) throw new Error(`${contender.name}: digest ${digest} is not ${contender.expect}`);
      if (contender.name === 'agent zst' && round === 0) {
        const onDisk = execFileSync('sh', ['-c', `head -c ${IMAGE_BYTES} ${target.path} | openssl dgst -sha256 -r`]).toString().split(' ')[0];
        if (onDisk !== image.rawSha256) throw new Error(`the agent's zst deploy left ${onDisk} on ${target.path}, not ${image.rawSha256}`);
      }
      results.set(contender.name, [...(results.get(contender.name) ?? []), { ...m, seconds: agent ? agent.wallS : m.wallS }]);
    }
  }
  const summary = new Map<string, { mbps: number; cpuS: number; machineCpuS: number; rssMb: number }>();
  console.log('\ncontender              MB/s   wall s  CPU s (tree)  CPU s (machine)  peak RSS MB   (median of ' + runs + ', digests checked)');
  for (const [name, list] of results) {
    const row = { mbps: mbps(median(list.map((m) => m.seconds))), cpuS: median(list.map((m) => m.cpuS)), machineCpuS: median(list.map((m) => m.machineCpuS)), rssMb: Math.max(...list.map((m) => m.rssMb)) };
    summary.set(name, row);
    console.log(`${name.padEnd(20)} ${row.mbps.toFixed(0).padStart(6)} ${median(list.map((m) => m.seconds)).toFixed(2).padStart(8)} ${row.cpuS.toFixed(2).padStart(13)} ${row.machineCpuS.toFixed(2).padStart(16)} ${row.rssMb.toFixed(0).padStart(12)}`);
  }
  const get = (name: string) => summary.get(name)!;
  const round3 = (value: number) => Math.round(value * 1000) / 1000;
  console.log(`\nagent zst vs sha256sum shell: ${(get('agent zst').mbps / get('shell zst sha256sum').mbps).toFixed(2)}x; raw: ${(get('agent raw').mbps / get('shell raw sha256sum').mbps).toFixed(2)}x; `
    + `zst fraction of the image-hash limit: ${(get('agent zst').mbps / limits.zstImageHash).toFixed(2)}`);
  console.log(JSON.stringify({
    zst_vs_openssl: round3(get('agent zst').mbps / get('shell zst openssl').mbps),
    raw_vs_openssl: round3(get('agent raw').mbps / get('shell raw openssl').mbps),
    zst_fraction_of_limit: round3(get('agent zst').mbps / limits.zst),
    raw_fraction_of_limit: round3(get('agent raw').mbps / limits.raw),
    peak_rss_mb: Math.round(Math.max(get('agent zst').rssMb, get('agent raw').rssMb)),
  }));
} finally {
  target.detach();
  await nginx.stop();
}
