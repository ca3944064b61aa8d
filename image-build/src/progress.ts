/** One line per phase with the seconds it took; long phases report progress on an interval. */
export interface Progress {
  phase<T>(name: string, work: () => Promise<T>): Promise<T>;
  note(message: string): void;
  /** Elapsed seconds since the build started. */
  elapsed(): number;
}

/** `signal`: a phase neither starts nor reports success once the build is stopped (Ctrl-C). */
export function createProgress(options: { write?: (line: string) => void; signal?: AbortSignal } = {}): Progress {
  const write = options.write ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const start = performance.now();
  const elapsed = () => (performance.now() - start) / 1000;
  return {
    elapsed,
    note: (message) => write(`  ${message}`),
    async phase(name, work) {
      options.signal?.throwIfAborted();
      const began = performance.now();
      write(`[${elapsed().toFixed(1).padStart(6)} s] ${name}...`);
      const result = await work();
      options.signal?.throwIfAborted();
      write(`[${elapsed().toFixed(1).padStart(6)} s] ${name}: done in ${((performance.now() - began) / 1000).toFixed(1)} s`);
      return result;
    },
  };
}

export function formatMiB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
