/**
 * The one progress bar of Ingot's commands: an agent's `command_progress`
 * (stage, done, total, unit, message) or any such sample (the demo's image
 * build), for a person. On a terminal cli-progress redraws one line in place,
 * `[#####.....] 42% 512/1210 MiB 180 MiB/s ETA 4 s`; in a log or a pipe a
 * line at most every few seconds, so a long deploy neither floods nor goes
 * silent. A message of a new kind (a download that starts retrying:
 * `retrying 3/10 in 4 s: connect ECONNREFUSED ...`) is shown at once in both.
 *
 * cli-progress does the terminal's part (back to column 1, clear to the
 * right, no line wrap while drawing, the newline at the end). The figures are
 * ours: its ETA comes from its own clock, not the samples' (an agent polled
 * every 2 s reports in steps), its bar rounds up (full at 96%), and off a
 * terminal it prints on a fixed timer whether or not anything changed, which
 * would hold a new message back for the whole interval.
 */
import cliProgress from 'cli-progress';
import type { CommandProgress } from '../types.ts';

export interface ProgressFigures {
  done: number;
  total?: number;
  unit?: string;
  /** Units per second; shown for bytes as MiB/s. */
  rate?: number;
  etaSeconds?: number;
}

const MiB = 1024 * 1024;
const isBytes = (unit?: string) => unit === 'bytes' || unit === 'B';

function amount(value: number, unit: string | undefined): string {
  return isBytes(unit) ? (value / MiB).toFixed(value < 10 * MiB ? 1 : 0) : String(value);
}

function duration(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes} min ${Math.ceil(seconds % 60)} s` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** One line of figures; `width` is the number of cells in the bar (no bar without a total). */
export function formatProgressLine(figures: ProgressFigures, width = 10): string {
  const { done, total, unit } = figures;
  const unitLabel = isBytes(unit) ? 'MiB' : (unit ?? '');
  const parts: string[] = [];
  if (total !== undefined && total > 0) {
    // Floor, not round: the bar is full only when the work is.
    const fraction = Math.min(1, Math.max(0, done / total));
    const filled = Math.floor(fraction * width);
    parts.push(`[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`, `${Math.floor(fraction * 100)}%`);
    parts.push(`${amount(done, unit)}/${amount(total, unit)}${unitLabel ? ` ${unitLabel}` : ''}`);
  } else {
    parts.push(`${amount(done, unit)}${unitLabel ? ` ${unitLabel}` : ''}`);
  }
  if (figures.rate !== undefined && figures.rate > 0 && Number.isFinite(figures.rate)) {
    parts.push(isBytes(unit) ? `${(figures.rate / MiB).toFixed(figures.rate < 10 * MiB ? 1 : 0)} MiB/s` : `${figures.rate.toFixed(1)}${unitLabel ? ` ${unitLabel}` : ''}/s`);
  }
  // A rate of a few bytes a second gives an ETA of years, or Infinity: not worth a figure (found by the bar's fuzz).
  if (figures.etaSeconds !== undefined && Number.isFinite(figures.etaSeconds) && figures.etaSeconds < 100 * 3600 && total !== undefined && done < total) parts.push(`ETA ${duration(figures.etaSeconds)}`);
  return parts.join(' ');
}

export interface ProgressBarOutput {
  /** Writes text as is (no newline added). */
  write(text: string): void;
  /** A terminal: redraw one line in place. */
  isTTY: boolean;
  /** The terminal's width; a longer line is cut there, not wrapped. Default 80. */
  columns?: number;
}

export interface ProgressBarOptions {
  output: ProgressBarOutput;
  /** Printed before the figures, e.g. "  writing image". Default: the sample's stage. */
  label?: string;
  /** Off a terminal, the least time between two lines (a new message is printed at once). Default 5000. */
  minIntervalMs?: number;
  /** Cells in the bar. Default 30. */
  width?: number;
  now?: () => number;
}

export interface ProgressBar {
  /** Takes a progress sample from a poll; draws it if the output wants it now. */
  update(progress: CommandProgress | null | undefined): void;
  /** Draws the last sample (if not yet shown) and ends the line. Safe to call twice. */
  finish(): void;
}

/**
 * The line for a sample: label, figures, message. The agent's message, when
 * it sends one, stands for the rate and ETA computed here (Ingot's agent
 * measures its own: "38.5 MiB/s, about 3 s left"), and while nothing is done
 * and no total known it stands alone ("retrying 3/10 in 4 s: ...").
 */
export function progressLine(label: string | undefined, progress: CommandProgress, figures: ProgressFigures | undefined, width: number): string {
  const message = messageOf(progress);
  const idle = figures !== undefined && figures.done === 0 && figures.total === undefined;
  const shown = figures === undefined || (idle && message) ? '' : formatProgressLine(message ? { done: figures.done, total: figures.total, unit: figures.unit } : figures, width);
  return [label === undefined ? oneLine(textOf(progress.stage)) : flat(label), shown, message].filter(Boolean).join(' ');
}

/**
 * A sample as it arrived from an agent, kept only where it makes sense: the
 * wire is outside input (any IPA-compatible agent), and JSON carries 1e400
 * as Infinity. Found by the bar's fuzz: `done: NaN` was drawn as "NaN".
 */
function readSample(progress: CommandProgress): CommandProgress {
  const count = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined);
  return { stage: textOf(progress.stage), done: count(progress.done), total: count(progress.total), unit: oneLine(textOf(progress.unit)) || undefined, message: textOf(progress.message) || undefined };
}

const textOf = (value: unknown) => (typeof value === 'string' ? value : '');
/** Control characters (a terminal escape an agent sent) and line breaks become spaces: the bar is one line. */
const flat = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ');
const oneLine = (text: string) => flat(text).replace(/\s+/g, ' ').trim();
const messageOf = (progress: CommandProgress) => oneLine(textOf(progress.message)) || undefined;

/** A message's kind: its words without its figures ("retrying 3/10 in 4 s" and "retrying 4/10 in 2 s" are one kind). */
const kindOf = (message: string | undefined) => message?.replace(/\d+(\.\d+)?/g, '#');

/** The terminal's half: cli-progress draws each line we give it in place. */
function createTerminalLine(output: ProgressBarOutput): { draw(line: string): void; end(): void } {
  const stream = { isTTY: true, columns: output.columns ?? 80, write: (text: string) => { output.write(text); return true; } };
  const bar = new cliProgress.SingleBar({
    stream: stream as unknown as NodeJS.WritableStream,
    format: (_options, _params, payload: { line?: string }) => payload.line ?? '',
    // Drawn on change from update() below; cli-progress's own timer finds nothing new to draw.
    fps: 5, hideCursor: false, linewrap: false, gracefulExit: false, etaBuffer: 1,
  });
  let started = false;
  return {
    draw(line) {
      if (!started) bar.start(1, 0, { line });
      else {
        bar.update({ line });
        bar.render();
      }
      started = true;
    },
    end() {
      if (started) bar.stop();
      started = false;
    },
  };
}

/**
 * A bar fed with the samples of one command. The rate is computed here from
 * the samples (done over the time since the first one), so any agent that
 * reports done/total gets a rate and an ETA.
 */
export function createProgressBar(options: ProgressBarOptions): ProgressBar {
  const now = options.now ?? Date.now;
  const minIntervalMs = options.minIntervalMs ?? 5000;
  const width = options.width ?? 30;
  const terminal = options.output.isTTY ? createTerminalLine(options.output) : undefined;
  let first: { at: number; done: number } | undefined;
  let printed: { line: string; at: number; kind: string | undefined } | undefined;
  let pending: string | undefined;
  let completed = false;

  const lineFor = (progress: CommandProgress, at: number): string => {
    if (progress.done === undefined) return progressLine(options.label, progress, undefined, width);
    const done = progress.done;
    // The rate counts from the last sample before anything moved: a download that waited for retries does not drag it down.
    if (!first || done === first.done) first = { at, done };
    const elapsed = (at - first.at) / 1000;
    const rate = elapsed > 0 ? (done - first.done) / elapsed : undefined;
    const eta = rate && progress.total !== undefined ? Math.max(0, progress.total - done) / rate : undefined;
    return progressLine(options.label, progress, { done, total: progress.total, unit: progress.unit, rate, etaSeconds: eta }, width);
  };

  const draw = (line: string) => {
    if (terminal) terminal.draw(line);
    else options.output.write(`${line}\n`);
  };

  return {
    update(sample) {
      if (!sample || typeof sample !== 'object') return;
      const progress = readSample(sample);
      const at = now();
      const complete = progress.total !== undefined && progress.done !== undefined && progress.done >= progress.total;
      // Once complete the figures stop moving: the line (and its rate) stays as first drawn.
      if (complete && completed) return;
      const line = lineFor(progress, at);
      if (line === printed?.line) return;
      completed = complete;
      // Off a terminal a message of a new kind is news (the download started retrying): printed at once; moving figures wait.
      const kind = kindOf(messageOf(progress));
      const news = kind !== undefined && kind !== printed?.kind;
      if (terminal || !printed || complete || news || at - printed.at >= minIntervalMs) {
        draw(line);
        printed = { line, at, kind };
        pending = undefined;
      } else {
        pending = line;
      }
    },
    finish() {
      if (pending !== undefined) draw(pending);
      pending = undefined;
      terminal?.end();
    },
  };
}
