import { constants as fsConstants } from 'node:fs';
import { access, open, readdir, readFile, stat as statPath } from 'node:fs/promises';
import { execa } from 'execa';
import type { Logger } from 'pino';
import type { DeviceGuard } from './device-guard.ts';
import { devicePathsIn } from './device-guard.ts';
import type { FileStat, RunOptions, RunResult, System } from './system.ts';
import { ToolError } from './system.ts';

/** Zero writes go out in chunks of this size; large enough to be fast, small enough to stay off the heap's radar. */
const ZERO_CHUNK = 1024 * 1024;

export interface RealSystemOptions {
  guard: DeviceGuard;
  log?: Logger;
}

/**
 * The real host. Every tool call and every device access passes the device
 * guard first, so that outside the ramdisk no code path can reach a disk the
 * agent was not given, whatever a step asks for.
 */
export function createRealSystem({ guard, log }: RealSystemOptions): System {
  const checkArgv = (argv: readonly string[]) => {
    for (const path of devicePathsIn(argv)) guard.check(path, `run ${argv[0]} on`);
  };

  return {
    async run(argv, options: RunOptions = {}): Promise<RunResult> {
      checkArgv(argv);
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
      return { size: info.size, isBlockDevice: info.isBlockDevice(), isFile: info.isFile() };
    },

    async deviceSize(path) {
      guard.check(path, 'measure');
      const info = await statPath(path);
      if (info.isFile()) return info.size;
      // stat() of a block device reports 0; the BLKGETSIZE64 ioctl is what blockdev asks.
      const { stdout } = await execa('blockdev', ['--getsize64', path]);
      return Number(stdout.trim());
    },

    async zeroRange(path, offset, length) {
      guard.check(path, 'write to');
      if (offset < 0 || length < 0) throw new RangeError(`zeroRange(${path}, ${offset}, ${length}): negative range`);
      // O_DSYNC: each write reaches stable storage before the call returns, so a
      // wipe that reported success survives a power cut. No O_DIRECT: buffers
      // here are not aligned and the amounts are small.
      const handle = await open(path, fsConstants.O_WRONLY | fsConstants.O_DSYNC);
      try {
        const zeros = Buffer.alloc(Math.min(ZERO_CHUNK, length));
        let done = 0;
        while (done < length) {
          const size = Math.min(zeros.length, length - done);
          const { bytesWritten } = await handle.write(zeros, 0, size, offset + done);
          if (bytesWritten <= 0) throw new Error(`short write to ${path} at offset ${offset + done}`);
          done += bytesWritten;
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
    },

    async writeRange(path, offset, data) {
      guard.check(path, 'write to');
      if (offset < 0) throw new RangeError(`writeRange(${path}, ${offset}): negative offset`);
      const handle = await open(path, fsConstants.O_WRONLY | fsConstants.O_DSYNC);
      try {
        let done = 0;
        while (done < data.byteLength) {
          const { bytesWritten } = await handle.write(data, done, data.byteLength - done, offset + done);
          if (bytesWritten <= 0) throw new Error(`short write to ${path} at offset ${offset + done}`);
          done += bytesWritten;
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
    },

    async readRange(path, offset, length) {
      guard.check(path, 'read');
      const handle = await open(path, 'r');
      try {
        const buffer = Buffer.alloc(length);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await handle.read(buffer, done, length - done, offset + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return buffer.subarray(0, done);
      } finally {
        await handle.close();
      }
    },
  };
}
