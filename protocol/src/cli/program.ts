/**
 * The one command-line convention of every Ingot command, on commander:
 * `-h/--help` and `-V/--version` everywhere (subcommands included), errors as
 * one line naming the flag (`ingot-agent: option '--disk <path>' argument
 * 'x' is invalid: no such file`), usage errors exit 2, failures exit 1, and
 * the exit-status table closes every help.
 */
import { Command, CommanderError, Help, InvalidArgumentError, Option, type OutputConfiguration } from 'commander';
import { EXIT, EXIT_STATUS_HELP } from './exit-codes.ts';
import { describeFailure } from './failure.ts';

export { Command, InvalidArgumentError, Option };

/** A command line that was understood but cannot be acted on (a missing flag, flags that exclude each other). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface ProgramOptions {
  name: string;
  version: string;
  /** One line: what the command does. */
  summary: string;
  /** Paragraphs after the usage line. */
  description?: string;
}

/** Applies the convention to a command (the program or a subcommand): help, errors, output. */
export interface CliWriters {
  out: (text: string) => void;
  err: (text: string) => void;
}

const stdWriters: CliWriters = { out: (text) => void process.stdout.write(text), err: (text) => void process.stderr.write(text) };

export function applyConvention(command: Command, name: string, write: CliWriters = stdWriters): Command {
  // 'afterAll' text shows in the help of every subcommand too: added once, on the root, the table appears once.
  if (!command.parent) command.addHelpText('afterAll', `\n${EXIT_STATUS_HELP}\n`);
  return command
    .helpOption('-h, --help', 'show this help and exit')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true, sortOptions: false, ...fittingColumns })
    .configureOutput({
      writeOut: write.out,
      writeErr: write.err,
      getOutHelpWidth: () => helpWidth(process.stdout),
      getErrHelpWidth: () => helpWidth(process.stderr),
      // commander's "error: unknown option '--x'\n(Did you mean --y?)" as one line.
      outputError: (text, out) => out(`${name}: ${text.replace(/^error: /, '').replace(/\n(?!$)/g, ' ').trimEnd()}\nRun ${name} --help for usage.\n`),
    });
}

/** The width help is wrapped to: COLUMNS when set (a script or test can ask), else the terminal's, else 80. */
export function helpWidth(stream: { isTTY?: boolean; columns?: number }): number {
  const fromEnv = Number(process.env.COLUMNS);
  const columns = Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : stream.isTTY && stream.columns ? stream.columns : 80;
  return columns;
}

/**
 * Commander pads every flag to the widest one and stops wrapping when the
 * description column gets narrower than 40: one long flag
 * (`--image-download-connection-retry-interval <int>`) then pushes every line
 * past the terminal. Here the flag column stops where 40 columns are left for
 * the descriptions; a flag wider than that gets a line of its own, its
 * description wrapped below it in the same column (or under the flag when
 * one of its words is wider than the column).
 */
const fittingColumns: Partial<Help> = {
  padWidth(this: Help, cmd, helper) {
    return Math.min(Help.prototype.padWidth.call(this, cmd, helper), Math.max((this.helpWidth ?? 80) - 4 - this.minWidthToWrap, 16));
  },
  formatItem(this: Help, term, termWidth, description, helper) {
    const width = this.helpWidth ?? 80;
    const column = termWidth + 4;
    // A word no line of the column can hold (a long kernel parameter's name) moves the description left, under the flag.
    const longestWord = Math.max(0, ...description.split(/\s+/).map((word) => helper.displayWidth(word)));
    const fitsColumn = longestWord <= width - column;
    if (!description || (helper.displayWidth(term) <= termWidth && fitsColumn)) return Help.prototype.formatItem.call(this, term, termWidth, description, helper);
    const indent = ' '.repeat(fitsColumn ? column : 6);
    return `  ${term}\n${indent}${helper.boxWrap(description, width - indent.length).replace(/\n/g, `\n${indent}`)}`;
  },
};

/** A program with the convention applied, `-V/--version` included. */
export function createProgram(options: ProgramOptions): Command {
  const program = new Command(options.name).summary(options.summary).description(options.description ? `${options.summary}\n\n${options.description}` : options.summary);
  program.version(options.version, '-V, --version', 'print the version and exit');
  return applyConvention(program, options.name);
}

/** Adds a subcommand that follows the convention too, writing where its parent writes. */
export function addSubcommand(parent: Command, name: string, summary: string, description?: string): Command {
  const sub = parent.command(name).summary(summary).description(description ? `${summary}\n\n${description}` : summary);
  const output = parent.configureOutput();
  const write: CliWriters = { out: output.writeOut ?? stdWriters.out, err: output.writeErr ?? stdWriters.err };
  return applyConvention(sub, `${parent.name()} ${name}`, write);
}

/** Parses a value for `Option.argParser`; its error becomes commander's one-line "argument ... is invalid: <why>". */
export function valueParser<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (error) {
      throw new InvalidArgumentError(describeFailure(error));
    }
  };
}

/** Whole number within [min, max]: "abc", "1.5", "-5", "0x10" and "" are refused. */
export function integerIn(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
  return valueParser((value) => {
    const number = /^\s*-?\d+\s*$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(number) || number < min || number > max) throw new Error(`expected a whole number ${range}, got ${JSON.stringify(value)}`);
    return number;
  });
}

/** One of the listed words. */
export function oneOf<T extends string>(choices: readonly T[]): (value: string) => T {
  return valueParser((value) => {
    if (!(choices as readonly string[]).includes(value)) throw new Error(`expected one of ${choices.join(', ')}, got "${value}"`);
    return value as T;
  });
}

export interface RunOptions {
  name: string;
  /** Adds the stack to the failure line (`--verbose`). */
  verbose?: () => boolean;
  err?: (text: string) => void;
}

/**
 * Runs a parsed program and returns the exit status: 0 after help or the
 * version, 2 for a commander or usage error (already printed by commander, or
 * printed here as one line), 1 with one line for any other failure.
 */
export async function runProgram(program: Command, argv: readonly string[], options: RunOptions): Promise<number> {
  const err = options.err ?? stdWriters.err;
  quietOnClosedStdout();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    return exitStatusFor(error, options.name, err, options.verbose?.() ?? false);
  }
}

/**
 * Runs a program with what it prints captured, help wrapped to `width`
 * (default 80) columns: for tests of a command line, which the program's
 * actions record instead of acting on.
 */
export async function runCaptured(program: Command, argv: readonly string[], options: { name: string; width?: number }): Promise<{ status: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const capture: OutputConfiguration = {
    writeOut: (text: string) => void out.push(text),
    writeErr: (text: string) => void err.push(text),
    getOutHelpWidth: () => options.width ?? 80,
    getErrHelpWidth: () => options.width ?? 80,
  };
  for (const command of [program, ...program.commands]) command.configureOutput(capture);
  const status = await runProgram(program, argv, { name: options.name, err: (text) => void err.push(text) });
  return { status, out: out.join(''), err: err.join('') };
}

/**
 * `ingot-agent --help | head`: a reader that stops early closes the pipe, and
 * the next write fails with EPIPE. That is no failure of the command (it ends
 * with the status it had, 0 after --help); without this, Node prints an
 * unhandled 'error' event with its stack. A command still running when its
 * reader leaves (the agent logging to a closed pipe) ends with 1.
 */
function quietOnClosedStdout(): void {
  if (process.stdout.listeners('error').includes(exitOnEpipe)) return;
  process.stdout.on('error', exitOnEpipe);
}

function exitOnEpipe(error: NodeJS.ErrnoException): void {
  if (error.code !== 'EPIPE') throw error;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : EXIT.failed);
}

/** The exit status for an error thrown by a command's action, after printing its one line. */
export function exitStatusFor(error: unknown, name: string, err: (text: string) => void, verbose: boolean): number {
  if (error instanceof CommanderError) {
    // Help and version end with code 0 and are already printed; every other commander error is a usage error, printed by outputError.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (error instanceof UsageError) {
    err(`${name}: ${error.message}\nRun ${name} --help for usage.\n`);
    return EXIT.usage;
  }
  err(`${name}: ${describeFailure(error, { verbose })}\n`);
  return EXIT.failed;
}
