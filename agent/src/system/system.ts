/**
 * The one seam through which the agent touches the host: external tools,
 * /proc and /sys, and block devices. Only `real-system.ts` imports execa and
 * fs; tests use `createFakeSystem` (agent/testing), which answers by argv.
 */
export interface RunOptions {
  /** Text written to the tool's stdin. */
  input?: string;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
  timeoutMs?: number;
  signal?: AbortSignal;
  env?: Record<string, string>;
  /** Receives stdout text as it arrives (progress of long tools such as `qemu-img convert -p`); the result still holds all of it. */
  onStdout?: (text: string) => void;
}

export interface RunResult {
  argv: readonly string[];
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface FileStat {
  size: number;
  isBlockDevice: boolean;
  isFile: boolean;
}

export interface System {
  /** Runs a tool (argv[0] looked up on PATH) and returns its output; throws ToolError on failure. */
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** Whether a tool is on PATH. */
  hasTool(name: string): Promise<boolean>;
  readText(path: string): Promise<string>;
  exists(path: string): Promise<boolean>;
  listDir(path: string): Promise<string[]>;
  stat(path: string): Promise<FileStat>;
  /** Size in bytes of a block device or file. */
  deviceSize(path: string): Promise<number>;
  /** Writes zeros over [offset, offset+length) of a device or file and flushes them to stable storage. */
  zeroRange(path: string, offset: number, length: number): Promise<void>;
  /** Reads [offset, offset+length) of a device or file. */
  readRange(path: string, offset: number, length: number): Promise<Buffer>;
  /** Writes `data` at `offset` of a device or file and flushes it to stable storage (a config drive, 9.6). */
  writeRange(path: string, offset: number, data: Uint8Array): Promise<void>;
}

export class ToolError extends Error {
  readonly argv: readonly string[];
  readonly exitCode: number;
  readonly stderr: string;
  constructor(argv: readonly string[], exitCode: number, stderr: string, cause?: unknown) {
    super(`${argv.join(' ')} exited with ${exitCode}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`, cause === undefined ? undefined : { cause });
    this.name = 'ToolError';
    this.argv = argv;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}
