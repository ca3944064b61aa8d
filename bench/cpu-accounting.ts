/**
 * Whose CPU a benchmark run cost. perf-limits.md 5 counts stage costs
 * machine-wide so that nginx and the loop kworker are included; on a shared
 * machine that also counts the neighbours (a QEMU under TCG, other benches),
 * which made the limit depend on their load. Here a run's cost is its own
 * process tree (GNU time) plus what serves and completes its I/O: nginx's
 * processes and kernel threads (loop worker, softirq). The rest of the
 * machine's busy time is "foreign" and marks a run as disturbed
 * (perf-limits.md 1: clean when foreign CPU <= max(0.3 s, 10% of a core)).
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_S = 100; // USER_HZ on Linux
const PF_KTHREAD = 0x00200000;

/** Busy CPU seconds of the whole machine so far. */
export function machineBusyS(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return (fields.reduce((a, b) => a + b, 0) - idle) / TICKS_PER_S;
}

/** CPU seconds so far of nginx (master `nginxPid` and its workers) and of every kernel thread. */
export function serviceCpuS(nginxPid: number): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // Fields after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(rest[1]);
    const flags = Number(rest[6]);
    if (Number(entry) === nginxPid || ppid === nginxPid || (flags & PF_KTHREAD) !== 0) ticks += Number(rest[11]) + Number(rest[12]);
  }
  return ticks / TICKS_PER_S;
}
