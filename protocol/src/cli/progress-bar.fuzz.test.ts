/**
 * The progress bar on any stream of samples an agent may send (command_progress
 * is outside input: any IPA-compatible agent, any values): it never throws,
 * never prints NaN or Infinity, off a terminal every write is one line, and
 * it prints at most one line per sample plus the last one on finish.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fuzz } from '../../../test/support/fuzz.ts';
import { oddNumber, oddString } from '../../../test/support/fuzz-inputs.ts';
import type { CommandProgress } from '../types.ts';
import { createProgressBar } from './progress-bar.ts';

const number = fc.oneof(oddNumber, fc.nat(2 ** 40), fc.constant(0));
const sample: fc.Arbitrary<CommandProgress | null | undefined> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(null, undefined) },
  {
    weight: 6,
    arbitrary: fc.record({
      stage: fc.oneof(oddString, fc.constantFrom('writing image', 'erasing metadata')),
      done: fc.option(number, { nil: undefined }),
      total: fc.option(number, { nil: undefined }),
      unit: fc.option(fc.oneof(oddString, fc.constantFrom('bytes', 'B', 'devices')), { nil: undefined }),
      message: fc.option(fc.oneof(oddString, fc.constantFrom('retrying 3/10 in 4 s: connect ECONNREFUSED 127.0.0.1:9 (http://x/i)', '38.5 MiB/s, about 3 s left', 'a\nb\r\nc')), { nil: undefined }),
    }, { requiredKeys: ['stage'] }),
  },
);
const run = fc.record({ samples: fc.array(fc.tuple(sample, fc.nat(20_000)), { maxLength: 12 }), tty: fc.boolean(), label: fc.option(oddString, { nil: undefined }), width: fc.integer({ min: 1, max: 60 }) });

it('draws any stream of samples without throwing, one line per write off a terminal, never NaN', async () => {
  await fuzz('progress bar samples', 400, fc.property(run, ({ samples, tty, label, width }) => {
    const writes: string[] = [];
    let clock = 0;
    const bar = createProgressBar({ output: { isTTY: tty, write: (text) => writes.push(text) }, label, width, minIntervalMs: 5000, now: () => clock });
    for (const [progress, step] of samples) {
      clock += step;
      bar.update(progress as CommandProgress);
    }
    bar.finish();
    const text = writes.join('');
    // Figures never read NaN or Infinity (JSON gives Infinity for 1e400); texts from the sample are shown as sent.
    const texts = [label, ...samples.flatMap(([p]) => (p ? [p.stage, p.unit, p.message] : []))].join(' ');
    if (!/NaN|Infinity/.test(texts)) expect(text).not.toMatch(/NaN|Infinity/);
    if (!tty) {
      expect(writes.length).toBeLessThanOrEqual(samples.length + 1);
      for (const line of writes) expect(line).toMatch(/^[^\n\r]*\n$/);
    } else {
      // One newline at most, the one finish() ends the line with.
      expect((text.match(/\n/g) ?? []).length).toBeLessThanOrEqual(1);
    }
  }));
});
