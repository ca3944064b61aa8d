/**
 * Fakes for tests of the agent and of code built on it. The fake System
 * answers tool calls by matching argv (never by call order) and throws on any
 * command nobody expected, so a test states exactly what the host would see.
 */
import type { FileStat, RunOptions, RunResult, System } from './system/system.ts';
import { ToolError } from './system/system.ts';
import { IngotError } from '@ingot/protocol';

export interface FakeCommand {
  argv: readonly (string | RegExp)[];
  stdout?: string;
  stderr?: string;
  exitCode?: number;
}

export interface FakeSystem extends System {
  /** Every argv run so far, in order. */
  readonly calls: string[][];
  /** What readText finds and what writeText left, by path. */
  files: Map<string, string>;
  /** Directories made with makeDir or createTempDir, and not removed since. */
  readonly dirs: Set<string>;
}

export function createFakeSystem(options: { commands?: FakeCommand[]; files?: Record<string, string>; tools?: string[] } = {}): FakeSystem {
  const calls: string[][] = [];
  const files = new Map(Object.entries(options.files ?? {}));
  const dirs = new Set<string>();
  const made = new Set<string>();
  let tempDirsMade = 0;
  const within = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);
  const needsReal = (what: string, kind: 'device' | 'process' | 'file system'): never => {
    throw new Error(`fake system: ${what} needs a real ${kind}; use a device test`);
  };
  const matches = (expected: FakeCommand['argv'], argv: readonly string[]) =>
    expected.length === argv.length && expected.every((part, index) => (typeof part === 'string' ? part === argv[index] : part.test(argv[index] ?? '')));
  const missing = (path: string) => Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
  return {
    calls,
    files,
    dirs,
    async run(argv: readonly string[], runOptions: RunOptions = {}): Promise<RunResult> {
      calls.push([...argv]);
      const command = options.commands?.find((candidate) => matches(candidate.argv, argv));
      if (!command) throw new Error(`fake system: unexpected command ${JSON.stringify(argv)}`);
      const result = { argv, stdout: command.stdout ?? '', stderr: command.stderr ?? '', exitCode: command.exitCode ?? 0 };
      if (result.exitCode !== 0 && !runOptions.allowFailure) throw new ToolError(argv, result.exitCode, result.stderr);
      return result;
    },
    hasTool: async (name) => (options.tools ?? []).includes(name) || (options.commands ?? []).some((c) => c.argv[0] === name),
    async readText(path) {
      const text = files.get(path);
      if (text === undefined) throw missing(path);
      return text;
    },
    exists: async (path) => files.has(path) || dirs.has(path) || [...files.keys()].some((key) => key.startsWith(`${path}/`)),
    async listDir(path) {
      const prefix = `${path.replace(/\/$/, '')}/`;
      return [...new Set([...files.keys()].filter((key) => key.startsWith(prefix)).map((key) => key.slice(prefix.length).split('/')[0]!))];
    },
    async stat(path): Promise<FileStat> {
      const text = files.get(path);
      if (text === undefined) throw missing(path);
      return { size: Buffer.byteLength(text), isBlockDevice: false, isFile: true };
    },
    async deviceSize(path) {
      return (await this.stat(path)).size;
    },
    zeroRange: async (path) => needsReal(`zeroRange(${path})`, 'device'),
    readRange: async (path) => needsReal(`readRange(${path})`, 'device'),
    writeRange: async (path) => needsReal(`writeRange(${path})`, 'device'),
    openDisk: async (path) => needsReal(`openDisk(${path})`, 'device'),
    createFile: async (path) => needsReal(`createFile(${path})`, 'file system'),
    spawn: (argv) => needsReal(`spawn(${JSON.stringify(argv)})`, 'process'),
    freeSpace: async (dir) => needsReal(`freeSpace(${dir})`, 'file system'),
    async writeText(path, text) {
      files.set(path, text);
    },
    async makeDir(path) {
      for (let dir = path.replace(/\/+$/, ''); dir; dir = dir.slice(0, dir.lastIndexOf('/'))) dirs.add(dir);
    },
    async createTempDir(parent, prefix) {
      const dir = `${parent.replace(/\/+$/, '')}/${prefix}${String(++tempDirsMade).padStart(6, '0')}`;
      made.add(dir);
      dirs.add(dir);
      return dir;
    },
    async removeTempDir(path) {
      if (!made.delete(path)) throw new Error(`fake system: removeTempDir(${path}) of a directory createTempDir did not make`);
      for (const dir of dirs) if (within(dir, path)) dirs.delete(dir);
      for (const file of files.keys()) if (within(file, path)) files.delete(file);
    },
  };
}

/** The IngotError that `fn` throws; fails the test when it throws nothing or something else. */
export function refusal(fn: () => unknown): IngotError {
  try {
    fn();
  } catch (error) {
    if (error instanceof IngotError) return error;
    throw error;
  }
  throw new Error('expected an IngotError, but the call succeeded');
}
