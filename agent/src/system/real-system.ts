import { spawn as spawnProcess } from 'node:child_process';
import { constants as fsConstants, readlinkSync, readSync, realpathSync, rmSync, statSync, writeSync } from 'node:fs';
import { access, mkdir, mkdtemp, open, readdir, readFile, rm, stat as statPath, statfs, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { execa } from 'execa';
import type { Logger } from 'pino';
import { blockdevSizeArgv } from '../tools/blockdev.ts';
import type { DeviceGuard, PathUse } from './device-guard.ts';
import { pathsIn } from './device-guard.ts';
import { deviceNumbers } from './device-numbers.ts';
import type { FileStat, OpenFile, RunningTool, RunOptions, RunResult, System } from './system.ts';
import { ToolError } from './system.ts';
import { writeFully, writeFullySync } from './write-fully.ts';

/** Zero writes go out in chunks of this size; large enough to be fast, small enough to stay off the heap's radar. */
const ZERO_CHUNK = 1024 * 1024;
/** Symlinks followed before a path counts as a loop (Linux's own limit, MAXSYMLINKS). */
const MAX_LINKS = 40;

export interface RealSystemOptions {
  guard: DeviceGuard;
  log?: Logger;
}

/**
 * The real host. Every tool call, device access and file write passes the
 * device guard first, in one place (`approve`), so that outside the ramdisk
 * no code path can reach a disk the agent was not given, whatever a step asks
 * for and whatever name (a /dev/disk/by-* link, a link in /tmp) it uses.
 */
/** The real host, and what only the process that owns it may do. */
export interface RealSystem extends System {
  /**
   * Removes every directory createTempDir made and removeTempDir has not,
   * synchronously: main calls it from the process's `exit` event, after a
   * signal or a failure, when no asynchronous work runs any more.
   */
  removeTempDirsSync(): void;
}

export function createRealSystem({ guard, log }: RealSystemOptions): RealSystem {
  const tempDirs = new Set<string>();

  /**
   * Follows the path's symlinks and has the guard judge where it leads;
   * returns the path to open: the resolved one, so that a link changed after
   * the check cannot redirect the open. Synchronous so that `spawn` answers at
   * once: a few metadata lookups per tool call or open, never per write.
   */
  // Where each given disk leads, followed once: the disks are fixed at start, and a link re-pointed
  // later (a /dev/disk/by-id name after a hot-plug) must not widen what the agent may touch.
  let diskAliases: readonly string[] | undefined;
  const approve = (path: string, kind: PathUse['kind'], action: string): string => {
    if (guard.mode === 'ramdisk') return path;
    const resolved = resolveLinks(path);
    diskAliases ??= guard.disks.map((disk) => resolveLinks(disk));
    guard.checkUse({ path, resolved, isBlockDevice: isBlockDeviceNode(resolved), kind, action }, diskAliases);
    return resolved;
  };
  const approveArgv = (argv: readonly string[]) => {
    for (const path of pathsIn(argv)) approve(path, 'argument', `run ${argv[0]} on`);
  };

  const run = async (argv: readonly string[], options: RunOptions = {}): Promise<RunResult> => {
    approveArgv(argv);
    const [file, ...args] = argv;
    if (!file) throw new Error('run() needs a program name');
    log?.debug({ argv }, 'running tool');
    const subprocess = execa(file, args, {
      input: options.input,
      reject: false,
      timeout: options.timeoutMs,
      cancelSignal: options.signal,
      env: { LC_ALL: 'C', ...options.env },
      stripFinalNewline: false,
    });
    if (options.onStdout) subprocess.stdout?.on('data', (chunk: Buffer) => options.onStdout!(chunk.toString('utf8')));
    const result = await subprocess;
    const outcome: RunResult = {
      argv,
      stdout: String(result.stdout ?? ''),
      stderr: String(result.stderr ?? ''),
      exitCode: result.exitCode ?? (result.failed ? -1 : 0),
    };
    if (result.failed && !options.allowFailure) {
      const reason = result.timedOut ? `timed out after ${options.timeoutMs} ms` : result.isCanceled ? 'was cancelled' : outcome.stderr || (result.shortMessage ?? 'failed');
      throw new ToolError(argv, outcome.exitCode, reason, result.cause);
    }
    return outcome;
  };

  return {
    run,

    spawn(argv): RunningTool {
      approveArgv(argv);
      const [file, ...args] = argv;
      if (!file) throw new Error('spawn() needs a program name');
      log?.debug({ argv }, 'starting tool');
      const child = spawnProcess(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr = (stderr + text).slice(-2000); });
      child.stdin.on('error', () => {}); // EPIPE when the tool quits early (xz on corrupt input); its exit status tells why
      const exited = new Promise<void>((resolve, reject) => {
        child.on('error', (error) => reject(new ToolError(argv, -1, error.message, error)));
        child.on('close', (code, signal) => (code === 0 ? resolve() : reject(new ToolError(argv, code ?? -1, stderr || `killed by ${signal}`))));
      });
      exited.catch(() => {}); // a tool killed on purpose ends in a rejection nobody has to await
      return { stdin: child.stdin, stdout: child.stdout, exited, kill: () => void child.kill() };
    },

    async hasTool(name) {
      const dirs = (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':');
      for (const dir of dirs) {
        try {
          await access(`${dir}/${name}`, fsConstants.X_OK);
          return true;
        } catch {
          // keep looking
        }
      }
      return false;
    },

    readText: (path) => readFile(path, 'utf8'),

    async exists(path) {
      try {
        await access(path);
        return true;
      } catch {
        return false;
      }
    },

    listDir: (path) => readdir(path),

    async stat(path): Promise<FileStat> {
      const info = await statPath(path);
      const isDeviceNode = info.isBlockDevice() || info.isCharacterDevice();
      return { size: info.size, isBlockDevice: info.isBlockDevice(), isFile: info.isFile(), ...(isDeviceNode ? { deviceNumber: deviceNumbers(info.rdev) } : {}) };
    },

    async deviceSize(path) {
      const info = await statPath(approve(path, 'device', 'measure'));
      if (info.isFile()) return info.size;
      // stat() of a block device reports 0; the BLKGETSIZE64 ioctl is what blockdev asks.
      const { stdout } = await run(blockdevSizeArgv(path));
      return Number(stdout.trim());
    },

    async zeroRange(path, offset, length) {
      const opened = approve(path, 'device', 'write to');
      if (offset < 0 || length < 0) throw new RangeError(`zeroRange(${path}, ${offset}, ${length}): negative range`);
      // O_DSYNC: each write reaches stable storage before the call returns, so a
      // wipe that reported success survives a power cut. No O_DIRECT: buffers
      // here are not aligned and the amounts are small.
      const file = await openFile(path, opened, fsConstants.O_WRONLY | fsConstants.O_DSYNC);
      try {
        const zeros = Buffer.alloc(Math.min(ZERO_CHUNK, length));
        for (let done = 0; done < length;) {
          const size = Math.min(zeros.length, length - done);
          await file.writeAt(zeros.subarray(0, size), offset + done);
          done += size;
        }
        await file.sync();
      } finally {
        await file.close();
      }
    },

    async writeRange(path, offset, data) {
      const opened = approve(path, 'device', 'write to');
      if (offset < 0) throw new RangeError(`writeRange(${path}, ${offset}): negative offset`);
      const file = await openFile(path, opened, fsConstants.O_WRONLY | fsConstants.O_DSYNC);
      try {
        await file.writeAt(data, offset);
        await file.sync();
      } finally {
        await file.close();
      }
    },

    async readRange(path, offset, length) {
      const file = await openFile(path, approve(path, 'device', 'read'), fsConstants.O_RDONLY);
      try {
        const buffer = Buffer.alloc(length);
        let done = 0;
        while (done < length) {
          const count = await file.readAt(buffer.subarray(done), offset + done);
          if (count === 0) break;
          done += count;
        }
        return buffer.subarray(0, done);
      } finally {
        await file.close();
      }
    },

    async openDisk(path, options = {}) {
      const flags = (options.write ? fsConstants.O_WRONLY : fsConstants.O_RDONLY)
        | (options.direct ? fsConstants.O_DIRECT : 0)
        | (options.durable ? fsConstants.O_DSYNC : 0);
      return openFile(path, approve(path, 'device', options.write ? 'write to' : 'read'), flags);
    },

    async createFile(path, { mode }) {
      return openFile(path, approve(path, 'write', 'create'), fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, mode);
    },

    async writeText(path, text, options = {}) {
      await writeFile(approve(path, 'write', 'write'), text, { mode: options.mode });
    },

    async makeDir(path, options = {}) {
      await mkdir(approve(path, 'write', 'create'), { recursive: true, mode: options.mode });
    },

    async createTempDir(parent, prefix) {
      const dir = await mkdtemp(join(approve(parent, 'write', 'create a directory in'), prefix));
      tempDirs.add(dir);
      return dir;
    },

    async removeTempDir(path) {
      if (!tempDirs.has(path)) throw new Error(`removeTempDir(${path}): not a directory this System created`);
      await rm(approve(path, 'write', 'remove'), { recursive: true, force: true });
      tempDirs.delete(path);
    },

    removeTempDirsSync() {
      for (const dir of tempDirs) {
        try {
          rmSync(approve(dir, 'write', 'remove'), { recursive: true, force: true });
          tempDirs.delete(dir);
        } catch {
          // The process is ending: nothing is left to report to; what could not go stays.
        }
      }
    },

    async freeSpace(dir) {
      const fs = await statfs(dir);
      // ramfs reports no blocks at all: it has no limit to check against.
      return fs.blocks === 0 ? undefined : fs.bavail * fs.bsize;
    },
  };
}

/** Opens `opened` (the approved form of `path`) as an OpenFile. */
async function openFile(path: string, opened: string, flags: number, mode?: number): Promise<OpenFile> {
  const handle = await open(opened, flags, mode);
  const info = await handle.stat().catch(async (error: unknown) => {
    await handle.close();
    throw error;
  });
  const write = (data: Uint8Array, offset: number, length: number, position: number) => handle.write(data, offset, length, position);
  const writeNow = (data: Uint8Array, offset: number, length: number, position: number) => writeSync(handle.fd, data, offset, length, position);
  return {
    path,
    isBlockDevice: info.isBlockDevice(),
    isFile: info.isFile(),
    writeAt: (data, position) => writeFully(write, data, position),
    writeAtSync: (data, position) => writeFullySync(writeNow, data, position),
    readAt: async (into, position) => (await handle.read(into, 0, into.byteLength, position)).bytesRead,
    readAtSync: (into, position) => readSync(handle.fd, into, 0, into.byteLength, position),
    sync: () => handle.sync(),
    truncate: (length) => handle.truncate(length),
    async stillPresent() {
      const now = await statPath(opened).catch(() => undefined);
      const held = await handle.stat();
      return now !== undefined && now.dev === held.dev && now.ino === held.ino && now.rdev === held.rdev && held.nlink > 0;
    },
    close: () => handle.close(),
  };
}

/**
 * Where `path` leads once every symlink is followed, even when its end does
 * not exist: a dangling link to /dev/sdz still names /dev/sdz, and a file
 * about to be created is judged by the directory it lands in.
 */
export function resolveLinks(path: string, links = 0): string {
  const absolute = resolve(path);
  try {
    return realpathSync(absolute);
  } catch {
    // Missing, or a dangling link: follow by hand as much of it as exists.
  }
  let target: string | undefined;
  try {
    target = readlinkSync(absolute);
  } catch {
    target = undefined;
  }
  if (target !== undefined) return links >= MAX_LINKS ? absolute : resolveLinks(resolve(dirname(absolute), target), links + 1);
  const parent = dirname(absolute);
  return parent === absolute ? absolute : join(resolveLinks(parent, links), basename(absolute));
}

function isBlockDeviceNode(path: string): boolean {
  try {
    return statSync(path).isBlockDevice();
  } catch {
    return false;
  }
}
