/**
 * The benchmark's fixtures: a generated 2 GiB ext4 image and its .zst
 * (perf-limits.md 1: mkfs.ext4, copies of /usr to about 700 MiB of data,
 * 160 MiB of random files standing in for already-compressed content), an
 * nginx from Debian on 127.0.0.1, and a loop device (or a file) to write to.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export const IMAGE_BYTES = 2 * 1024 * 1024 * 1024;
const sh = (file: string, args: string[]) => execFileSync(file, args, { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 }).toString();

export interface BenchImage {
  raw: string;
  zst: string;
  rawSha256: string;
  zstSha256: string;
}

/** Builds the image once; later runs reuse it (the directory is a cache). */
export function prepareImage(dir: string): BenchImage {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const raw = `${dir}/image.raw`;
  const zst = `${dir}/image.raw.zst`;
  if (!existsSync(zst)) {
    const staging = `${dir}/staging`;
    sh('rm', ['-rf', staging, raw]);
    mkdirSync(`${staging}/random`, { recursive: true });
    for (const source of ['/usr/bin', '/usr/sbin', '/usr/lib/python3', '/usr/lib/python3.11', '/usr/share/perl', '/usr/lib/x86_64-linux-gnu']) {
      if (existsSync(source)) sh('cp', ['-a', source, `${staging}/${source.replaceAll('/', '_')}`]);
      if (Number(sh('du', ['-sm', staging]).split('\t')[0]) > 540) break;
    }
    for (let i = 0; i < 16; i++) sh('dd', ['if=/dev/urandom', `of=${staging}/random/blob-${i}`, 'bs=1M', 'count=10', 'status=none']);
    sh('truncate', ['-s', String(IMAGE_BYTES), raw]);
    sh('mkfs.ext4', ['-q', '-F', '-d', staging, raw]);
    sh('rm', ['-rf', staging]);
    sh('zstd', ['-q', '-3', '-f', raw, '-o', zst]);
    sh('chmod', ['644', raw, zst]);
  }
  const digest = (path: string) => sh('openssl', ['dgst', '-sha256', '-r', path]).split(' ')[0]!;
  return { raw, zst, rawSha256: digest(raw), zstSha256: digest(zst) };
}

/**
 * A highly compressible image ("whatever the compression ratio"): the same
 * 2 GiB ext4 holding only about 40 MiB of files, so zstd shrinks it more than
 * 20x and every compressed read inflates to several slots.
 */
export function prepareSparseImage(dir: string): { zst: string; zstSha256: string; rawSha256: string; ratio: number } {
  const raw = `${dir}/sparse.raw`;
  const zst = `${dir}/sparse.raw.zst`;
  if (!existsSync(zst)) {
    const staging = `${dir}/sparse-staging`;
    sh('rm', ['-rf', staging, raw]);
    mkdirSync(staging, { recursive: true });
    for (const source of ['/usr/share/perl', '/usr/lib/python3.11', '/usr/share/doc']) {
      if (existsSync(source)) sh('cp', ['-a', source, `${staging}/${source.replaceAll('/', '_')}`]);
      if (Number(sh('du', ['-sm', staging]).split('\t')[0]) > 40) break;
    }
    sh('truncate', ['-s', String(IMAGE_BYTES), raw]);
    sh('mkfs.ext4', ['-q', '-F', '-d', staging, raw]);
    sh('rm', ['-rf', staging]);
    sh('zstd', ['-q', '-3', '-f', raw, '-o', zst]);
    sh('chmod', ['644', raw, zst]);
  }
  const digest = (path: string) => sh('openssl', ['dgst', '-sha256', '-r', path]).split(' ')[0]!;
  const ratio = IMAGE_BYTES / Number(sh('stat', ['-c', '%s', zst]).trim());
  return { zst, zstSha256: digest(zst), rawSha256: digest(raw), ratio };
}

/**
 * The same image as Ingot's snapshots store it: zstd's seekable format, 4 MiB
 * frames at level 3, made by the capture's own compressFrames (cached).
 */
export async function prepareSeekableImage(dir: string, raw: string): Promise<{ zst: string; zstSha256: string }> {
  const zst = `${dir}/image.raw.szst`;
  if (!existsSync(zst)) {
    const { compressFrames } = await import('../agent/src/snapshot/compress-frames.ts');
    const partial = `${zst}.partial`;
    const file = await open(partial, 'w', 0o644);
    try {
      let position = 0;
      await compressFrames(createReadStream(raw, { highWaterMark: 4 << 20 }), async (chunk) => {
        await file.write(chunk, 0, chunk.byteLength, position);
        position += chunk.byteLength;
      }, { level: 3, frameSize: 4 << 20 });
    } finally {
      await file.close();
    }
    renameSync(partial, zst);
  }
  return { zst, zstSha256: sh('openssl', ['dgst', '-sha256', '-r', zst]).split(' ')[0]! };
}

export interface Nginx {
  /** The master's PID: its workers are the processes whose parent it is. */
  pid: number;
  url(name: string): string;
  stop(): Promise<void>;
}

/**
 * nginx with sendfile and 2 workers, as measured in perf-limits.md; an unusual port (9).
 * `davDir` (a directory under `dir`) takes WebDAV PUTs, chunked ones included: bench:snapshot's target.
 */
export async function startNginx(dir: string, port: number, options: { davDir?: string } = {}): Promise<Nginx> {
  const prefix = `${dir}/nginx`;
  mkdirSync(`${prefix}/logs`, { recursive: true });
  writeFileSync(`${prefix}/nginx.conf`, `
worker_processes 2;
error_log ${prefix}/logs/error.log;
pid ${prefix}/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${dir};
    ${options.davDir ? `location /${options.davDir}/ { dav_methods PUT DELETE; create_full_put_path on; client_max_body_size 0; }` : ''}
  }
}
`);
  const child: ChildProcess = spawn('nginx', ['-p', prefix, '-c', `${prefix}/nginx.conf`, '-g', 'daemon off;'], { stdio: 'inherit' });
  for (let i = 0; i < 50; i++) {
    try {
      sh('curl', ['-sf', '-o', '/dev/null', '-r', '0-0', `http://127.0.0.1:${port}/image.raw.zst`]);
      break;
    } catch {
      await sleep(100);
    }
  }
  return {
    pid: child.pid!,
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    async stop() {
      child.kill('SIGQUIT');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

export interface BenchTarget {
  path: string;
  kind: 'loop device, direct I/O' | 'loop device' | 'file';
  detach(): void;
}

/**
 * A loop device over a fully written 2 GiB file (perf-limits.md 1), or the
 * file itself where loop devices are unavailable. The loop device does direct
 * I/O to its file, so that like a disk it has no page cache behind it; with
 * BENCH_LOOP_DIO=0 it does not, and every run, shell or agent, then ends with
 * its fsync writing 2 GiB of the file's page cache back (about 0.5 s here).
 */
export function attachTarget(dir: string): BenchTarget {
  const backing = `${dir}/target.img`;
  if (!existsSync(backing)) sh('dd', ['if=/dev/zero', `of=${backing}`, 'bs=4M', `count=${IMAGE_BYTES / (4 << 20)}`, 'status=none']);
  try {
    const direct = process.env.BENCH_LOOP_DIO !== '0';
    const device = sh('losetup', [`--direct-io=${direct ? 'on' : 'off'}`, '--show', '--find', backing]).trim();
    return { path: device, kind: direct ? 'loop device, direct I/O' : 'loop device', detach: () => { execFileSync('losetup', ['--detach', device]); } };
  } catch (error) {
    console.warn(`no loop device (${(error as Error).message.split('\n')[0]}): writing to ${backing} instead`);
    return { path: backing, kind: 'file', detach: () => {} };
  }
}
