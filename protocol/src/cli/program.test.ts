import { describe, expect, it } from 'vitest';
import { Option } from 'commander';
import { EXIT } from './exit-codes.ts';
import { describeFailure } from './failure.ts';
import { addSubcommand, applyConvention, Command, createProgram, helpWidth, integerIn, oneOf, runProgram, UsageError } from './program.ts';

function harness(action: (opts: Record<string, unknown>) => void | Promise<void> = () => {}) {
  const out: string[] = [];
  const err: string[] = [];
  const write = { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) };
  const program = applyConvention(new Command('tool').version('1.2.3', '-V, --version'), 'tool', write);
  program
    .addOption(new Option('--size <mib>', 'size in MiB').argParser(integerIn(1, 1024)))
    .addOption(new Option('--mode <m>', 'mode').argParser(oneOf(['a', 'b'])))
    .action((opts: Record<string, unknown>) => action(opts));
  const run = (...argv: string[]) => runProgram(program, argv, { name: 'tool', err: write.err });
  return { out, err, run };
}

describe('the CLI convention', () => {
  it('exits 0 after --help, -h and --version, printing them on stdout', async () => {
    for (const flag of ['--help', '-h']) {
      const h = harness();
      expect(await h.run(flag)).toBe(EXIT.ok);
      expect(h.out.join('')).toMatch(/Usage: tool \[options\][\s\S]*--size <mib>[\s\S]*Exit status:\n  0 +success/);
    }
    const v = harness();
    expect(await v.run('--version')).toBe(EXIT.ok);
    expect(v.out.join('')).toBe('1.2.3\n');
  });

  it('refuses a bad value with one line naming the flag, the value and what is accepted, exit 2', async () => {
    for (const [argv, pattern] of [
      [['--size', 'abc'], /^tool: option '--size <mib>' argument 'abc' is invalid\. expected a whole number from 1 to 1024, got "abc"\nRun tool --help for usage\.\n$/],
      [['--size', '0'], /argument '0' is invalid\. expected a whole number from 1 to 1024, got "0"/],
      [['--size', '-5'], /argument '-5' is invalid\. expected a whole number from 1 to 1024, got "-5"/],
      [['--mode', 'c'], /argument 'c' is invalid\. expected one of a, b, got "c"/],
      [['--sise', '3'], /^tool: unknown option '--sise' \(Did you mean --size\?\)\nRun tool --help/],
      [['--size'], /^tool: option '--size <mib>' argument missing/],
    ] as const) {
      const h = harness();
      expect(await h.run(...argv), argv.join(' ')).toBe(EXIT.usage);
      expect(h.err.join(''), argv.join(' ')).toMatch(pattern);
      expect(h.err.join('').trimEnd().split('\n')).toHaveLength(2);
    }
  });

  it('maps a UsageError to 2 and any other failure to 1, each one line', async () => {
    const usage = harness(() => { throw new UsageError('--disk is required outside the ramdisk'); });
    expect(await usage.run()).toBe(EXIT.usage);
    expect(usage.err.join('')).toBe('tool: --disk is required outside the ramdisk\nRun tool --help for usage.\n');
    const failed = harness(async () => { throw new Error('connect ECONNREFUSED 127.0.0.1:1', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) }); });
    expect(await failed.run()).toBe(EXIT.failed);
    expect(failed.err.join('')).toBe('tool: connect ECONNREFUSED 127.0.0.1:1\n');
  });

  it('gives subcommands the same help and errors', async () => {
    const err: string[] = [];
    const program = createProgram({ name: 'tool', version: '1', summary: 'does things' });
    program.configureOutput({ writeOut: () => {}, writeErr: (t) => void err.push(t) });
    addSubcommand(program, 'clean', 'cleans').requiredOption('--mac <mac>', 'a MAC').action(() => {});
    expect(await runProgram(program, ['clean'], { name: 'tool', err: (t) => void err.push(t) })).toBe(EXIT.usage);
    expect(err.join('')).toBe("tool clean: required option '--mac <mac>' not specified\nRun tool clean --help for usage.\n");
 
    const out: string[] = [];
    program.configureOutput({ writeOut: (t) => void out.push(t) });
    program.commands[0]!.configureOutput({ writeOut: (t) => void out.push(t) });
    expect(await runProgram(program, ['clean', '--help'], { name: 'tool' })).toBe(EXIT.ok);
    expect(out.join('').match(/Exit status:/g), 'the table once, not once per ancestor').toHaveLength(1);
  });
});

describe('help that fits the terminal', () => {
  function helpAt(width: number): string {
    const out: string[] = [];
    const program = applyConvention(new Command('tool'), 'tool', { out: (t) => void out.push(t), err: () => {} });
    program.configureOutput({ getOutHelpWidth: () => width });
    program
      .addOption(new Option('--size <mib>', 'size in MiB of the thing to build, rounded up to a whole MiB'))
      .addOption(new Option('--a-very-long-option-name-that-takes-most-of-the-line <value>', 'ingot-a-very-long-kernel-parameter-name-alone-on-its-line: what it does'));
    program.outputHelp();
    return out.join('');
  }

  it('keeps every line within the width, a flag too long for the column on a line of its own', () => {
    for (const width of [80, 120, 200]) {
      expect(helpAt(width).split('\n').filter((line) => line.length > width), `width ${width}`).toEqual([]);
    }
    expect(helpAt(80)).toMatch(/\n {2}--size <mib> +size in MiB/);
    expect(helpAt(80)).toMatch(/\n {2}--a-very-long-option-name-that-takes-most-of-the-line <value>\n {6}ingot-a-very-long/);
    expect(helpAt(200)).toMatch(/\n {2}--a-very-long-option-name-that-takes-most-of-the-line <value> +ingot-a-very-long/);
  });

  it('wraps to COLUMNS when it is set, else to the terminal, else to 80', () => {
    const saved = process.env.COLUMNS;
    try {
      process.env.COLUMNS = '132';
      expect(helpWidth({ isTTY: true, columns: 100 })).toBe(132);
      delete process.env.COLUMNS;
      expect(helpWidth({ isTTY: true, columns: 100 })).toBe(100);
      expect(helpWidth({ isTTY: false })).toBe(80);
      process.env.COLUMNS = 'wide';
      expect(helpWidth({})).toBe(80);
    } finally {
      if (saved === undefined) delete process.env.COLUMNS;
      else process.env.COLUMNS = saved;
    }
  });
});

describe('describeFailure', () => {
  it('says a repeated cause once', () => {
    const cause = new Error('Image checksum mismatch: expected 000');
    expect(describeFailure(new Error('Image checksum mismatch: expected 000', { cause }))).toBe('Image checksum mismatch: expected 000');
    expect(describeFailure(new Error('deploy failed', { cause }))).toBe('deploy failed: Image checksum mismatch: expected 000');
  });

  it('adds the stack only when verbose', () => {
    const error = new Error('boom');
    expect(describeFailure(error)).toBe('boom');
    expect(describeFailure(error, { verbose: true })).toMatch(/^boom\n\s+at /);
  });
});
