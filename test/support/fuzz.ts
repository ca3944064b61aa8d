/**
 * What every fuzz property shares (the `fuzz` vitest project, `*.fuzz.test.ts`
 * beside the code it attacks): a seed printed before the run so that any
 * failure replays, a number of inputs scaled by `npm run fuzz`, and a tally
 * that test/fuzz/tally.ts sums and checks at the end of the run.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { expect, inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The file each property appends its figures to (one JSON line each). */
    fuzzTally: string;
    /** Multiplies every property's CI budget (`npm run fuzz` sets it). */
    fuzzScale: number;
  }
}

/** One line of the tally. */
export interface FuzzTallyLine {
  property: string;
  inputs: number;
  seed: number;
  failed: boolean;
}

/**
 * Checks `property` on `ciRuns` × scale generated inputs with a printed seed
 * (`INGOT_FUZZ_SEED` replays one), records the figures, and throws
 * fast-check's report (the seed, the path and the shrunk counterexample) on
 * failure.
 */
export async function fuzz<Ts>(name: string, ciRuns: number, property: fc.IAsyncPropertyWithHooks<Ts> | fc.IPropertyWithHooks<Ts>, parameters: fc.Parameters<Ts> = {}): Promise<void> {
  const seed = process.env.INGOT_FUZZ_SEED ? Number(process.env.INGOT_FUZZ_SEED) : (Math.random() * 2 ** 31) | 0;
  const numRuns = Math.max(1, Math.round(ciRuns * inject('fuzzScale')));
  // The same seed and scale replay the same inputs in the same order, up to the failing one.
  const { testPath, currentTestName } = expect.getState();
  const file = testPath ? path.relative(process.cwd(), testPath) : '';
  const replay = `INGOT_FUZZ_SEED=${seed} INGOT_FUZZ_SCALE=${inject('fuzzScale')} npx vitest run --project fuzz ${file} -t ${JSON.stringify(currentTestName?.split(' > ').at(-1) ?? name)}`;
  process.stdout.write(`[fuzz] ${name}: ${numRuns} inputs, seed ${seed} (replay: ${replay})\n`);
  const details = await fc.check(property as fc.IAsyncPropertyWithHooks<Ts>, { ...parameters, seed, numRuns });
  const line: FuzzTallyLine = { property: name, inputs: details.numRuns, seed, failed: details.failed };
  appendFileSync(inject('fuzzTally'), `${JSON.stringify(line)}\n`);
  if (details.failed) throw new Error(fc.defaultReportMessage(details) ?? `property ${name} failed (seed ${seed})`, { cause: details.errorInstance });
}
