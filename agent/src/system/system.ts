import type { Readable, Writable } from 'node:stream';

/**
 * The one seam through which the agent touches the host: external tools,
 * /proc and /sys, block devices and the files it writes. Only
 * `real-system.ts` imports execa and fs, and it passes every path through the
 * device guard first; tests use `createFakeSystem` (agent/testing), which
 * answers by argv.
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
  /** major:minor of a device node (what /sys/dev/block/ is keyed by). */
  deviceNumber?: { major: number; minor: number };
}

/** How a disk (a block device or a disk file) is opened. */
export interface OpenDiskOptions {
  /** Write-only; read-only otherwise. */
  write?: boolean;
  /** O_DIRECT: around the page cache; buffers, offsets and lengths then follow the device's alignment (slot-pool.ts). */
  direct?: boolean;
  /** O_DSYNC: each write is on stable storage when it returns. */
  durable?: boolean;
}

/** A disk or file the System opened. Positions are byte offsets; nothing here moves a file pointer. */
export interface OpenFile {
  readonly path: string;
  readonly isBlockDevice: boolean;
  readonly isFile: boolean;
  /** Writes all of `data` at `position`, or throws. */
  writeAt(data: Uint8Array, position: number): Promise<void>;
  /** The same, synchronously: for the staging file, whose writes keep pace with the socket (staging-file.ts). */
  writeAtSync(data: Uint8Array, position: number): void;
  /** Reads into `into` at `position`; the count read, 0 at the end. */
  readAt(into: Uint8Array, position: number): Promise<number>;
  /** The same, synchronously: the O_DIRECT alignment probe must answer at once (slot-pool.ts alignSlots). */
  readAtSync(into: Uint8Array, position: number): number;
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  /** Whether the path still names what was opened, and it was not deleted meanwhile. */
  stillPresent(): Promise<boolean>;
  close(): Promise<void>;
}

/** A tool running beside the agent, fed through stdin and read through stdout (`xz --decompress --stdout`). */
export interface RunningTool {
  readonly stdin: Writable;
  readonly stdout: Readable;
  /** Settles when it has exited: resolved on status 0, else rejected with a ToolError holding its stderr's tail. */
  readonly exited: Promise<void>;
  kill(): void;
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
  /** Opens a block device or disk file: the image target. */
  openDisk(path: string, options?: OpenDiskOptions): Promise<OpenFile>;
  /** Creates a new file (never an existing one) and opens it for writing. */
  createFile(path: string, options: { mode: number }): Promise<OpenFile>;
  /** Starts a tool whose input and output stream while it runs; System.run is for tools whose output fits in memory. */
  spawn(argv: readonly string[]): RunningTool;
  /** Writes a whole text file, created with `mode` when it does not exist. */
  writeText(path: string, text: string, options?: { mode?: number }): Promise<void>;
  /** Creates a directory and any missing parents, new ones with `mode`. */
  makeDir(path: string, options?: { mode?: number }): Promise<void>;
  /** Creates a new, empty directory in `parent` named `prefix` and six random characters; returns its path. */
  createTempDir(parent: string, prefix: string): Promise<string>;
  /** Removes a directory createTempDir made, with everything in it; any other path is refused. */
  removeTempDir(path: string): Promise<void>;
  /** Bytes free for an unprivileged writer in the filesystem holding `dir`; undefined when it sets no limit (ramfs). */
  freeSpace(dir: string): Promise<number | undefined>;
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
