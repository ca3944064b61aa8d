import { describe, expect, it } from 'vitest';
import { createProgressBar, formatProgressLine } from './progress-bar.ts';

const MiB = 1024 * 1024;

describe('formatProgressLine', () => {
  it('draws a bar, the percentage, MiB done of total, the rate and the ETA for bytes', () => {
    expect(formatProgressLine({ done: 512 * MiB, total: 1210 * MiB, unit: 'bytes', rate: 180 * MiB, etaSeconds: 3.9 }))
      .toBe('[####......] 42% 512/1210 MiB 180 MiB/s ETA 4 s');
  });

  it('fills the bar completely and drops the ETA when done', () => {
    expect(formatProgressLine({ done: 100 * MiB, total: 100 * MiB, unit: 'bytes', rate: 50 * MiB, etaSeconds: 0 }, 4)).toBe('[####] 100% 100/100 MiB 50 MiB/s');
  });

  it('shows only the amount and rate while the total is unknown', () => {
    expect(formatProgressLine({ done: 3 * MiB, unit: 'bytes', rate: 1.5 * MiB })).toBe('3.0 MiB 1.5 MiB/s');
  });

  it('keeps other units as plain numbers and writes long ETAs in minutes', () => {
    expect(formatProgressLine({ done: 1, total: 4, unit: 'devices', rate: 0.01, etaSeconds: 300 }, 4)).toBe('[#...] 25% 1/4 devices 0.0 devices/s ETA 5 min 0 s');
  });

  it('never draws past the ends when done exceeds total', () => {
    expect(formatProgressLine({ done: 12, total: 10 }, 5)).toBe('[#####] 100% 12/10');
  });
});

function output(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, output: { isTTY, write: (text: string) => writes.push(text) } };
}

describe('createProgressBar', () => {
  it('redraws one line in place on a terminal through cli-progress, with a rate from the samples, and ends it with a newline', () => {
    let clock = 0;
    const { writes, output: out } = output(true);
    const bar = createProgressBar({ output: out, width: 10, now: () => clock, label: 'image' });
    bar.update({ stage: 'writing image', done: 0, total: 100 * MiB, unit: 'bytes' });
    clock = 1000;
    bar.update({ stage: 'writing image', done: 40 * MiB, total: 100 * MiB, unit: 'bytes' });
    bar.finish();
    bar.finish();
    // Each line is drawn from column 1 (CSI 1G) and cleared to its right (CSI 0K); wrapping is off while drawing.
    const text = writes.join('');
    expect(text).not.toContain('\r');
    const drawn = text.split('\x1b[1G').slice(1).map((part) => part.split('\x1b[0K')[0]);
    expect(drawn).toContain('image [..........] 0% 0.0/100 MiB');
    expect(drawn).toContain('image [####......] 40% 40/100 MiB 40 MiB/s ETA 2 s');
    expect(text.indexOf('0% 0.0/100')).toBeLessThan(text.indexOf('40% 40/100'));
    expect(text.split('\n')).toHaveLength(2);
    expect(text.endsWith('\n')).toBe(true);
    expect(text).toContain('\x1b[?7l');
    expect(text.lastIndexOf('\x1b[?7h')).toBeGreaterThan(text.lastIndexOf('40 MiB/s'));
  });

  it('off a terminal prints a line at most every interval, and the final figures on finish', () => {
    let clock = 0;
    const { writes, output: out } = output(false);
    const bar = createProgressBar({ output: out, width: 4, minIntervalMs: 5000, now: () => clock });
    for (let second = 0; second <= 12; second++) {
      clock = second * 1000;
      bar.update({ stage: 'writing image', done: second, total: 20, unit: 'blocks' });
    }
    bar.finish();
    expect(writes.map((line) => line.split(' ').slice(0, 4).join(' '))).toEqual([
      'writing image [....] 0%', 'writing image [#...] 25%', 'writing image [##..] 50%', 'writing image [##..] 60%',
    ]);
    expect(writes.every((line) => line.endsWith('\n') && !line.includes('\r'))).toBe(true);
  });

  it('prints completion at once even within the interval, once, and nothing for an empty sample', () => {
    let clock = 0;
    const { writes, output: out } = output(false);
    const bar = createProgressBar({ output: out, now: () => clock, width: 2 });
    bar.update(null);
    bar.update({ stage: 'write', done: 1, total: 2 });
    clock = 100;
    bar.update({ stage: 'write', done: 2, total: 2 });
    clock = 900;
    bar.update({ stage: 'write', done: 2, total: 2 });
    bar.finish();
    expect(writes).toEqual(['write [#.] 50% 1/2\n', 'write [##] 100% 2/2 10.0/s\n']);
  });
});

describe('the message of a sample', () => {
  const retrying = 'retrying 3/10 in 4 s: connect ECONNREFUSED 127.0.0.1:9 (http://127.0.0.1:9/disk.img)';

  it('replaces the empty figures while nothing is done, a new kind of message printed at once off a terminal, its moving figures at the interval', () => {
    let clock = 0;
    const { writes, output: out } = output(false);
    const bar = createProgressBar({ output: out, now: () => clock, label: '  image', minIntervalMs: 5000 });
    bar.update({ stage: 'writing image', done: 0, unit: 'bytes', message: '0.0 MiB/s' });
    clock = 1000;
    bar.update({ stage: 'writing image', done: 0, unit: 'bytes', message: retrying });
    clock = 2000;
    bar.update({ stage: 'writing image', done: 0, unit: 'bytes', message: retrying.replace('3/10', '4/10') });
    clock = 6500;
    bar.update({ stage: 'writing image', done: 0, unit: 'bytes', message: retrying.replace('3/10', '5/10') });
    bar.finish();
    expect(writes).toEqual([
      '  image 0.0 MiB/s\n',
      `  image ${retrying}\n`,
      `  image ${retrying.replace('3/10', '5/10')}\n`,
    ]);
  });

  it('stands for the rate and ETA computed here, and goes back to them when the agent sends none', () => {
    let clock = 0;
    const { writes, output: out } = output(false);
    const bar = createProgressBar({ output: out, now: () => clock, width: 4, minIntervalMs: 0 });
    bar.update({ stage: 'write', done: 0, total: 100 * MiB, unit: 'bytes', message: retrying });
    clock = 60_000;
    bar.update({ stage: 'write', done: 0, total: 100 * MiB, unit: 'bytes' });
    clock = 61_000;
    bar.update({ stage: 'write', done: 50 * MiB, total: 100 * MiB, unit: 'bytes' });
    clock = 62_000;
    bar.update({ stage: 'write', done: 75 * MiB, total: 100 * MiB, unit: 'bytes', message: '25.0 MiB/s, about 1 s left' });
    bar.finish();
    expect(writes).toEqual([
      `write [....] 0% 0.0/100 MiB ${retrying}\n`,
      'write [....] 0% 0.0/100 MiB\n',
      // The rate counts from the last sample before bytes moved: the minute of retries does not drag it down.
      'write [##..] 50% 50/100 MiB 50 MiB/s ETA 1 s\n',
      'write [###.] 75% 75/100 MiB 25.0 MiB/s, about 1 s left\n',
    ]);
  });

  it('shows the message alone on a sample without figures, on one line even when it spans several', () => {
    const { writes, output: out } = output(false);
    const bar = createProgressBar({ output: out });
    bar.update({ stage: 'erasing metadata', message: 'disk0\n  disk1' });
    bar.finish();
    expect(writes).toEqual(['erasing metadata disk0 disk1\n']);
  });

  it('passes no terminal escape an agent sends to the operator\'s terminal, and draws no figure it cannot read', () => {
    const { writes, output: out } = output(true);
    const bar = createProgressBar({ output: out, label: 'image' });
    bar.update({ stage: 'x', done: Number.POSITIVE_INFINITY, total: Number.NaN, unit: 'bytes', message: '\x1b]0;pwned\x07\x1b[2Jdone' });
    bar.finish();
    const drawn = writes.join('').split('\x1b[1G').slice(1).map((part) => part.split('\x1b[0K')[0]);
    expect(drawn).toEqual(['image ]0;pwned [2Jdone']);
  });
});
