/**
 * A real OpenStack Swift (Debian 12's 2.30) all in one, on 127.0.0.1, for the
 * snapshot tests and the demo (issue 13): memcached, then the account,
 * container and object servers and the proxy, each a child process in its own
 * process group with its config, rings, storage and log inside `stateDir`.
 *
 * - One device, one replica: rings built with swift-ring-builder.
 * - tempauth holds one account (`test`, user `test:tester`); its tokens live in
 *   memcached, which tempauth requires, s3api requests included.
 * - The proxy's pipeline has tempurl (the account's Temp-URL-Key is set at
 *   start), s3api before tempauth (access key `test:tester`, secret the
 *   user's key), slo and dlo.
 * - swift.conf (the hash path suffix, the storage policy) is written into
 *   `stateDir` too: the servers read /etc/swift/swift.conf otherwise, with no
 *   option to point elsewhere, so each server starts through a small Python
 *   launcher that calls Swift's own `set_swift_dir` and reloads the policies
 *   before running Debian's server script. Nothing under /etc is read or written.
 * - The object server keeps metadata in user xattrs: when `stateDir`'s
 *   filesystem has none, a 256 MiB ext4 image is loop-mounted as the device
 *   (root needed), and unmounted by stop().
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from './free-port.ts';
import { ranToEnd, startSpawned } from './spawned.ts';
import { renderSwiftConfigs, type SwiftPorts } from './swift-config.ts';
import { presignS3Url, tempUrlQuery } from '@ingot/conductor-client/snapshot';

export const SWIFT_INSTALL_HINT = 'apt-get install -y swift swift-proxy swift-account swift-container swift-object memcached';
const SERVERS = ['account-server', 'container-server', 'object-server', 'proxy-server'] as const;
// Debian's Python, where python3-swift is installed (another python3 may come first on PATH).
const PYTHON = '/usr/bin/python3';
const USER = 'test:tester';
const KEY = 'testing';

export interface SwiftServer {
  /** The proxy: `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** `AUTH_test`; objects live under `${url}/v1/${account}/`. */
  readonly account: string;
  /** A tempauth token for the account (admin); send it as X-Auth-Token. */
  readonly authToken: string;
  readonly user: string;
  readonly key: string;
  /** The account's X-Account-Meta-Temp-URL-Key. */
  readonly tempUrlKey: string;
  readonly s3: { endpoint: string; accessKey: string; secretKey: string; region: string };
  readonly stateDir: string;
  /** Seconds from start to every server answering. */
  readonly startupSeconds: number;
  /** A temp URL for `container/object` (within the account), valid for `expiresSeconds` from now. */
  tempUrl(method: string, objectPath: string, expiresSeconds: number): string;
  /** A SigV4 presigned URL for `bucket/key`; `query` carries `uploads`, `partNumber`, `uploadId`. */
  presignS3(method: string, bucket: string, key: string, expiresSeconds: number, query?: Record<string, string>): string;
  /** PUT a container (an S3 bucket too) with the admin token. */
  createContainer(name: string): Promise<void>;
  /** The last `bytes` of a server's log (`proxy-server`, `object-server`, ..., `memcached`). */
  readLog(server: string, bytes?: number): Promise<string>;
  stop(): Promise<void>;
}

/** Null when Swift and memcached are installed here, else what is missing and how to install it. */
export function checkSwiftInstalled(): string | null {
  const tools = ['/usr/bin/swift-proxy-server', '/usr/bin/swift-account-server', '/usr/bin/swift-container-server', '/usr/bin/swift-object-server', '/usr/bin/swift-ring-builder', '/usr/bin/memcached'];
  const missing = tools.filter((tool) => !existsSync(tool));
  return missing.length === 0 ? null : `${missing.join(', ')} missing; install with: ${SWIFT_INSTALL_HINT}`;
}

/** The launcher: Swift's servers read swift.conf from /etc/swift unless told otherwise in-process. */
const LAUNCHER = `import runpy, sys
from swift.common import utils
utils.set_swift_dir(sys.argv[1])
from swift.common import storage_policy
storage_policy.reload_storage_policies()
script = sys.argv[2]
sys.argv = [script] + sys.argv[3:]
runpy.run_path(script, run_name='__main__')
`;

const XATTR_PROBE = `import os, sys
p = os.path.join(sys.argv[1], '.xattr-probe')
open(p, 'w').close()
try:
    os.setxattr(p, 'user.swift.probe', b'1')
finally:
    os.unlink(p)
`;

/**
 * `proxyPort`: the proxy's port, when the caller must know it before Swift is up (a QEMU guest's forward is set at its start).
 * `signal`: aborts a start still under way (the demo's Ctrl-C): what started is stopped, and the promise rejects with the reason.
 */
export async function startSwift(options: { stateDir: string; proxyPort?: number; signal?: AbortSignal; log?: (line: string) => void }): Promise<SwiftServer> {
  const missing = checkSwiftInstalled();
  if (missing) throw new Error(missing);
  const started = Date.now();
  const stateDir = path.resolve(options.stateDir);
  const devices = path.join(stateDir, 'devices');
  const device = path.join(devices, 'sda1');
  await mkdir(device, { recursive: true });
  const mounted = await ensureXattrs(stateDir, device);
  const children: ChildProcess[] = [];
  const killAll = () => { for (const child of children) killGroup(child, 'SIGKILL'); };
  process.once('exit', killAll);
  try {
    const ports: SwiftPorts = { proxy: options.proxyPort ?? await freePort(), account: await freePort(), container: await freePort(), object: await freePort(), memcached: await freePort() };
    const configs = renderSwiftConfigs({ stateDir, devices, ports, user: USER, key: KEY });
    for (const [name, text] of Object.entries(configs)) await writeFile(path.join(stateDir, name), text);
    await writeFile(path.join(stateDir, 'launch.py'), LAUNCHER);
    await buildRings(stateDir, ports);

    children.push(startLogged(stateDir, 'memcached', '/usr/bin/memcached', ['-l', '127.0.0.1', '-p', String(ports.memcached), '-U', '0', '-m', '16', '-u', 'root']));
    for (const server of SERVERS) {
      // -v: log to stderr too (Swift logs to syslog otherwise), which goes to <server>.log.
      children.push(startLogged(stateDir, server, PYTHON, [path.join(stateDir, 'launch.py'), stateDir, `/usr/bin/swift-${server}`, path.join(stateDir, `${server}.conf`), '-v']));
    }
    const portOf = { 'account-server': ports.account, 'container-server': ports.container, 'object-server': ports.object, 'proxy-server': ports.proxy };
    await Promise.all(SERVERS.map((server, index) => waitHealthy(server, portOf[server], children[index + 1]!, stateDir, options.signal)));

    const url = `http://127.0.0.1:${ports.proxy}`;
    const auth = await fetch(`${url}/auth/v1.0`, { headers: { 'X-Auth-User': USER, 'X-Auth-Key': KEY } });
    const authToken = auth.headers.get('x-auth-token');
    if (auth.status !== 200 || !authToken) throw new Error(`tempauth refused ${USER}: HTTP ${auth.status}; see ${stateDir}/proxy-server.log`);
    const account = 'AUTH_test';
    const tempUrlKey = `ingot-temp-url-key-${process.pid}-${started}`;
    // The account is created here (account_autocreate), its temp URL key set at once.
    const set = await fetch(`${url}/v1/${account}`, { method: 'POST', headers: { 'X-Auth-Token': authToken, 'X-Account-Meta-Temp-URL-Key': tempUrlKey } });
    if (set.status !== 204) throw new Error(`setting the account's Temp-URL-Key failed: HTTP ${set.status} ${await set.text()}`);

    const startupSeconds = (Date.now() - started) / 1000;
    options.log?.(`Swift 2.30 all-in-one on ${url} (account ${account}) ready in ${startupSeconds.toFixed(1)} s; state in ${stateDir}`);
    const s3 = { endpoint: url, accessKey: USER, secretKey: KEY, region: 'us-east-1' };
    let stopped: Promise<void> | undefined;
    return {
      url, account, authToken, user: USER, key: KEY, tempUrlKey, s3, stateDir, startupSeconds,
      tempUrl(method, objectPath, expiresSeconds) {
        const full = `/v1/${account}/${objectPath.replace(/^\/+/, '')}`;
        return `${url}${full}?${tempUrlQuery(tempUrlKey, method, full, Math.floor(Date.now() / 1000) + expiresSeconds)}`;
      },
      presignS3(method, bucket, key, expiresSeconds, query) {
        return presignS3Url(s3, { method, endpoint: url, path: `/${bucket}/${key}`, query, expiresSeconds });
      },
      async createContainer(name) {
        const response = await fetch(`${url}/v1/${account}/${encodeURIComponent(name)}`, { method: 'PUT', headers: { 'X-Auth-Token': authToken } });
        if (response.status !== 201 && response.status !== 202) throw new Error(`PUT container ${name}: HTTP ${response.status} ${await response.text()}`);
      },
      readLog: (server, bytes = 4000) => readLogTail(stateDir, server, bytes),
      stop() {
        stopped ??= stopAll(children, mounted ? device : null).finally(() => process.off('exit', killAll));
        return stopped;
      },
    };
  } catch (error) {
    await stopAll(children, mounted ? device : null);
    process.off('exit', killAll);
    throw error;
  }
}

function startLogged(stateDir: string, name: string, command: string, args: string[]): ChildProcess {
  const log = openSync(path.join(stateDir, `${name}.log`), 'a');
  // detached: its own process group, so stop() ends the server and every worker it forked.
  const child = spawn(command, args, { cwd: stateDir, detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.on('error', () => { /* reported by waitHealthy through the exit code */ });
  return child;
}

/** The three rings, built side by side: each swift-ring-builder run is a Python start of a second or two. */
async function buildRings(stateDir: string, ports: SwiftPorts): Promise<void> {
  await Promise.all(([['account', ports.account], ['container', ports.container], ['object', ports.object]] as const).map(async ([ring, port]) => {
    const builder = path.join(stateDir, `${ring}.builder`);
    // 2^6 partitions, 1 replica, 1 hour between moves of a partition: one device, nothing to move.
    const steps = [['create', '6', '1', '1'], ['add', '--region', '1', '--zone', '1', '--ip', '127.0.0.1', '--port', String(port), '--device', 'sda1', '--weight', '100'], ['rebalance']];
    for (const step of steps) {
      const ran = await ranToEnd(startSpawned('/usr/bin/swift-ring-builder', [builder, ...step]));
      if (ran.status !== 0) throw new Error(`swift-ring-builder ${ring}.builder ${step[0]} failed (exit ${ran.status}): ${ran.stdout}${ran.stderr}`);
    }
  }));
}

/** Mounts an ext4 image on `device` when `stateDir`'s filesystem has no user xattrs; true when it did. */
async function ensureXattrs(stateDir: string, device: string): Promise<boolean> {
  const probe = spawnSync(PYTHON, ['-c', XATTR_PROBE, device], { encoding: 'utf8' });
  if (probe.status === 0) return false;
  if (process.getuid?.() !== 0) throw new Error(`${stateDir} has no user xattrs, which Swift's object server needs, and mounting an ext4 image there needs root: use a state dir on ext4 or xfs`);
  const image = path.join(stateDir, 'device.ext4');
  for (const [command, ...args] of [['truncate', '-s', '256M', image], ['mkfs.ext4', '-q', '-F', image], ['mount', '-o', 'loop', image, device]]) {
    const ran = spawnSync(command!, args, { encoding: 'utf8' });
    if (ran.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${ran.status}): ${ran.stderr}`);
  }
  return true;
}

async function waitHealthy(server: string, port: number, child: ChildProcess, stateDir: string, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${server} exited (code ${child.exitCode}, signal ${child.signalCode}):\n${await readLogTail(stateDir, server, 3000)}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthcheck`, { signal: AbortSignal.timeout(2_000) });
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${server} did not answer /healthcheck on port ${port} within 60 s:\n${await readLogTail(stateDir, server, 3000)}`);
}

async function readLogTail(stateDir: string, server: string, bytes: number): Promise<string> {
  const text = await readFile(path.join(stateDir, `${server}.log`), 'utf8').catch(() => '');
  return text.slice(-bytes);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try { process.kill(-child.pid, signal); } catch { /* already gone */ }
}

async function stopAll(children: ChildProcess[], mountedDevice: string | null): Promise<void> {
  const exits = children.map((child) => new Promise<void>((resolve) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  }));
  for (const child of children) killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => { for (const child of children) killGroup(child, 'SIGKILL'); }, 10_000);
  await Promise.all(exits);
  clearTimeout(timer);
  if (mountedDevice) {
    const ran = spawnSync('umount', [mountedDevice], { encoding: 'utf8' });
    if (ran.status !== 0) throw new Error(`umount ${mountedDevice} failed: ${ran.stderr}; unmount it by hand`);
  }
}
