/**
 * The fuzz project's global setup: hands every property the tally file and the
 * scale, and at the end prints what the run tried. CI's run must try at least
 * MIN_CI_INPUTS inputs (issue 10); a run that tried fewer fails.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import type { FuzzTallyLine } from '../support/fuzz.ts';

export const MIN_CI_INPUTS = 10_000;

export default function setup(project: TestProject) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ingot-fuzz-'));
  const tally = path.join(dir, 'tally.jsonl');
  writeFileSync(tally, '');
  const scale = Number(process.env.INGOT_FUZZ_SCALE ?? '1');
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`INGOT_FUZZ_SCALE must be a positive number, not ${process.env.INGOT_FUZZ_SCALE}`);
  project.provide('fuzzTally', tally);
  project.provide('fuzzScale', scale);
  return () => {
    const lines = readFileSync(tally, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as FuzzTallyLine);
    rmSync(dir, { recursive: true, force: true });
    const inputs = lines.reduce((sum, line) => sum + line.inputs, 0);
    const failed = lines.filter((line) => line.failed);
    const report = [`[fuzz] ${inputs} inputs over ${lines.length} properties (scale ${scale}); ${failed.length} failed`];
    for (const line of lines) report.push(`  ${line.failed ? 'FAIL' : 'ok  '} ${String(line.inputs).padStart(9)}  seed ${String(line.seed).padStart(10)}  ${line.property}`);
    process.stdout.write(`${report.join('\n')}\n`);
    if (process.env.INGOT_FUZZ_REPORT) writeFileSync(process.env.INGOT_FUZZ_REPORT, `${report.join('\n')}\n`);
    // Only a whole run counts: a filtered one (-t, a file) tries fewer by design.
    const whole = !process.argv.some((arg) => arg === '-t' || arg.startsWith('--testNamePattern') || arg.endsWith('.ts'));
    if (whole && lines.length > 0 && inputs < MIN_CI_INPUTS * scale) throw new Error(`the fuzz run tried ${inputs} inputs, fewer than ${MIN_CI_INPUTS * scale}: raise the properties' budgets`);
  };
}
