/**
 * Renders an agent's `command_progress` (Ingot's extension: stage, done,
 * total, unit, message) for a person: on a terminal one line redrawn in place,
 * `[#####.....] 42% 512/1210 MiB 180 MiB/s ETA 4 s`; in a log or a pipe a line
 * at most every few seconds, so a long deploy neither floods nor goes silent.
 */
import type { CommandProgress } from '@ingot/protocol';

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
    const fraction = Math.min(1, Math.max(0, done / total));
    const filled = Math.floor(fraction * width);
    parts.push(`[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`, `${Math.floor(fraction * 100)}%`);
    parts.push(`${amount(done, unit)}/${amount(total, unit)}${unitLabel ? ` ${unitLabel}` : ''}`);
  } else {
    parts.push(`${amount(done, unit)}${unitLabel ? ` ${unitLabel}` : ''}`);
  }
  if (figures.rate !== undefined && figures.rate > 0) {
    parts.push(isBytes(unit) ? `${(figures.rate / MiB).toFixed(figures.rate < 10 * MiB ? 1 : 0)} MiB/s` : `${figures.rate.toFixed(1)}${unitLabel ? ` ${unitLabel}` : ''}/s`);
  }
  if (figures.etaSeconds !== undefined && total !== undefined && done < total) parts.push(`ETA ${duration(figures.etaSeconds)}`);
  return parts.join(' ');
}

export interface ProgressBarOutput {
  /** Writes text as is (no newline added). */
  write(text: string): void;
  /** A terminal: redraw one line in place. */
  isTTY: boolean;
}

export interface ProgressBarOptions {
  output: ProgressBarOutput;
  /** Printed before the figures, e.g. "  writing image". */
  label?: string;
  /** Off a terminal, the least time between two lines. Default 5000. */
  minIntervalMs?: number;
  /** Cells in the bar. Default 30. */
  width?: number;
  now?: () => number;
}

export interface ProgressBar {
  /** Takes a progress sample from a poll; draws it if the output wants it now. */
  update(progress: CommandProgress | null | undefined): void;
  /** Draws the last sample (if not yet shown) and ends the line. */
  finish(): void;
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
  let first: { at: number; done: number } | undefined;
  let printed: { line: string; at: number } | undefined;
  let pending: string | undefined;
  let drawn = false;
  let completed = false;

  const lineFor = (progress: CommandProgress, at: number): string => {
    const done = progress.done ?? 0;
    first ??= { at, done };
    const elapsed = (at - first.at) / 1000;
    const rate = elapsed > 0 ? (done - first.done) / elapsed : undefined;
    const eta = rate && progress.total !== undefined ? Math.max(0, progress.total - done) / rate : undefined;
    const figures = progress.done === undefined ? '' : formatProgressLine({ done, total: progress.total, unit: progress.unit, rate, etaSeconds: eta }, width);
    return [options.label ?? progress.stage, figures].filter(Boolean).join(' ');
  };

  const draw = (line: string) => {
    if (options.output.isTTY) options.output.write(`\r${line}\x1b[K`);
    else options.output.write(`${line}\n`);
    drawn = true;
  };

  return {
    update(progress) {
      if (!progress) return;
      const at = now();
      const complete = progress.total !== undefined && progress.done !== undefined && progress.done >= progress.total;
      // Once complete the figures stop moving: the line (and its rate) stays as first drawn.
      if (complete && completed) return;
      const line = lineFor(progress, at);
      if (line === printed?.line) return;
      completed = complete;
      if (options.output.isTTY || !printed || complete || at - printed.at >= minIntervalMs) {
        draw(line);
        printed = { line, at };
        pending = undefined;
      } else {
        pending = line;
      }
    },
    finish() {
      if (pending !== undefined) draw(pending);
      pending = undefined;
      if (drawn && options.output.isTTY) options.output.write('\n');
      drawn = false;
    },
  };
}
