import type { Logger } from 'pino';
import type { WriteImageProgress } from './types.ts';

/**
 * Progress on an interval, never per chunk (the house style for streams): a timer
 * samples the counters, so the hot path only increments numbers.
 */
export interface ProgressReporter {
  /** Emits a sample now, off the interval: something a watcher should see at once (a retry) changed. */
  now(): void;
  /** Emits one last sample and stops the timer. */
  stop(): void;
}

export function startProgress(options: {
  intervalMs: number;
  log: Logger;
  onProgress?: (progress: WriteImageProgress) => void;
  sample: () => Omit<WriteImageProgress, 'rateBytesPerSecond' | 'etaSeconds'>;
}): ProgressReporter {
  const started = Date.now();
  const emit = () => {
    const counters = options.sample();
    const progress = withRate(counters, (Date.now() - started) / 1000);
    options.onProgress?.(progress);
    options.log.info({ progress }, 'image write progress');
  };
  const timer = setInterval(emit, options.intervalMs);
  timer.unref();
  return {
    now: emit,
    stop() {
      clearInterval(timer);
      emit();
    },
  };
}

/** Rate over the whole run (steadier than an instantaneous one) and the ETA it implies. */
export function withRate(counters: Omit<WriteImageProgress, 'rateBytesPerSecond' | 'etaSeconds'>, elapsedSeconds: number): WriteImageProgress {
  const rate = elapsedSeconds > 0 ? counters.bytesDone / elapsedSeconds : 0;
  const remaining = counters.bytesTotal === undefined ? undefined : Math.max(0, counters.bytesTotal - counters.bytesDone);
  const eta = remaining === undefined || rate <= 0 ? undefined : remaining / rate;
  return { ...counters, rateBytesPerSecond: Math.round(rate), etaSeconds: eta === undefined ? undefined : Math.round(eta * 10) / 10 };
}
