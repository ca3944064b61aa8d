/** One line per phase with the seconds it took; long phases report progress on an interval. */
export interface Progress {
  phase<T>(name: string, work: () => Promise<T>): Promise<T>;
  note(message: string): void;
  /** Elapsed seconds since the build started. */
  elapsed(): number;
}

export function createProgress(write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Progress {
  const start = performance.now();
  const elapsed = () => (performance.now() - start) / 1000;
  return {
    elapsed,
    note: (message) => write(`  ${message}`),
    async phase(name, work) {
      const began = performance.now();
      write(`[${elapsed().toFixed(1).padStart(6)} s] ${name}...`);
      const result = await work();
      write(`[${elapsed().toFixed(1).padStart(6)} s] ${name}: done in ${((performance.now() - began) / 1000).toFixed(1)} s`);
      return result;
    },
  };
}

export function formatMiB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
