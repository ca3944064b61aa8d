/**
 * How a benchmark times a contender (perf-limits.md 1 and 5): under GNU time,
 * with the CPU it cost counted as its own process tree plus the services and
 * kernel threads that do its I/O, and the rest of the machine's busy time as
 * "foreign" (a disturbed run is retried up to twice; the least disturbed kept).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { machineBusyS } from './cpu-accounting.ts';

export interface Measure {
  wallS: number;
  /** user+sys of the process tree plus the services' and kernel threads' CPU meanwhile. */
  costS: number;
  /** Busy CPU of the rest of the machine meanwhile. */
  foreignS: number;
  rssMb: number;
  stdout: string;
}

export const clean = (m: Measure) => m.foreignS <= Math.max(0.3, 0.1 * m.wallS);
export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
export const round3 = (value: number) => Math.round(value * 1000) / 1000;

/**
 * A measurer for one bench: `serviceCpuS()` gives the CPU seconds so far of
 * what serves the contenders (nginx, kernel threads); `timeFile` is scratch.
 */
export function createMeasure(options: { timeFile: string; serviceCpuS: () => number }) {
  const once = (argv: string[]): Measure => {
    const busy = machineBusyS();
    const service = options.serviceCpuS();
    const started = process.hrtime.bigint();
    const child = spawnSync('/usr/bin/time', ['-v', '-o', options.timeFile, ...argv], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const wallS = Number(process.hrtime.bigint() - started) / 1e9;
    const serviceS = options.serviceCpuS() - service;
    const machineS = machineBusyS() - busy;
    if (child.status !== 0) throw new Error(`${argv.join(' ')} failed (${child.status}): ${child.stderr}`);
    const report = readFileSync(options.timeFile, 'utf8');
    const field = (name: string) => Number(new RegExp(`${name}: ([\\d.]+)`).exec(report)?.[1] ?? NaN);
    const treeS = field('User time \\(seconds\\)') + field('System time \\(seconds\\)');
    const costS = treeS + serviceS;
    return { wallS, costS, foreignS: Math.max(0, machineS - costS), rssMb: field('Maximum resident set size \\(kbytes\\)') / 1024, stdout: child.stdout };
  };
  /** Up to two retries of a disturbed run; keeps the least disturbed one. `prepare` runs before each attempt. */
  return (argv: string[], prepare = () => {}): Measure => {
    prepare();
    let best = once(argv);
    for (let retry = 0; retry < 2 && !clean(best); retry++) {
      prepare();
      const again = once(argv);
      if (again.foreignS < best.foreignS) best = again;
    }
    return best;
  };
}

/**
 * perf-limits.md 5: bytes over the larger of (summed stage CPU / cores), the
 * slowest stage's CPU, and the slowest device stage's wall time. `spread`
 * stages run on every core at once (frames compressed or decompressed a
 * frame per thread): their CPU counts in full in the sum, but as a stage
 * divided by the cores. `wallS` stages are bound by a device, not a CPU
 * (O_DIRECT writes to the loop device take about 2 s of wall time for 0.4 s
 * of CPU). In MB/s.
 */
export function cpuLimit(bytes: number, stages: number[], options: { cores?: number; spread?: number[]; wallS?: number[] } = {}): number {
  const cores = options.cores ?? 2;
  const spread = options.spread ?? [];
  const sum = [...stages, ...spread].reduce((a, b) => a + b, 0);
  return bytes / Math.max(sum / cores, ...stages, ...spread.map((s) => s / cores), ...(options.wallS ?? [])) / 1e6;
}
