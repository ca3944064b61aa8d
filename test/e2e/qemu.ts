/**
 * A QEMU harness for the end-to-end tests: boots a kernel and initramfs under
 * TCG (the CI machine's KVM cannot run a stock kernel, see
 * ramdisk-feasibility.md), with raw disk files the host can inspect, and
 * user-mode networking restricted to exactly the ports the test serves.
 *
 * The serial console is timestamped on the host (seconds since spawn) into a
 * log file; the test can also type on it (QEMU's stdin is the serial line).
 * QEMU is always stopped by its PID: stop(), and at process exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';

export interface VmDisk {
  path: string;
  bus: 'virtio' | 'nvme';
  /**
   * NVMe controllers need a serial; also what `nvme list` shows. A virtio
   * disk with one is attached as `-device virtio-blk-pci,serial=...` (what
   * lsblk's SERIAL and a `serial` root device hint see); without one, as
   * `-drive if=virtio`.
   */
  serial?: string;
}

export interface VmOptions {
  kernel: string;
  initrd: string;
  /** Kernel command line; console=ttyS0 is prepended. */
  append: string;
  disks: VmDisk[];
  /** An ISO attached as an IDE CD-ROM (the pc machine's ata_piix). */
  cdrom?: string;
  mac: string;
  /** Guest address:port forwarded to the host's 127.0.0.1:hostPort; nothing else is reachable (restrict=on). */
  guestForwards?: Array<{ guestAddress: string; guestPort: number; hostPort: number }>;
  /** Guest TCP port exposed on the host's 127.0.0.1 ... */
  exposePort?: number;
  /** ... at this host port (default: a free one; pick it first with freePort() when the guest must know it). */
  hostPort?: number;
  consoleLog: string;
  memoryMiB?: number;
  cpus?: number;
}

export interface Vm {
  readonly pid: number;
  /** Host port forwarded to `exposePort` in the guest. */
  readonly hostPort: number;
  readonly consoleLog: string;
  /** Console lines so far, with the seconds since QEMU was spawned. */
  readonly lines: ReadonlyArray<{ at: number; text: string }>;
  readonly startedAt: number;
  /** Resolves with the first console line matching, already seen or yet to come; rejects on timeout or QEMU exit. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<{ at: number; text: string }>;
  /** What the serial console printed so far, carriage returns removed, the unfinished last line (a prompt) included. */
  serialOutput(): string;
  /**
   * Resolves with the first match of `pattern` in the serial output from
   * offset `from` on (a prompt such as `login: ` ends no line, so this is what
   * waits for one); `end` is the offset just after the match, to wait on from
   * there. Rejects on timeout or QEMU exit.
   */
  waitForSerial(pattern: RegExp, timeoutMs: number, from?: number): Promise<{ text: string; end: number }>;
  /** Types `text` on the guest's serial console ("\n" ends a line, as a terminal's Enter). */
  writeSerial(text: string): Promise<void>;
  /** Settles when QEMU exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once QEMU is gone. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if a test run dies before its afterAll: no QEMU outlives the test process.
  process.on('exit', () => {
    for (const child of running) if (child.pid && child.exitCode === null) try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of running) if (child.pid && child.exitCode === null) try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
      process.kill(process.pid, signal);
    });
  }
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * `guestfwd=...-tcp:host:port` is a chardev: ONE connection made when QEMU
 * starts, shared by every guest connection and never re-made once the host
 * closes it (an HTTP keep-alive timeout is enough to cut the guest off for
 * good). `guestfwd=...-cmd:<program>` runs the program per guest connection
 * with the connection on its stdin/stdout, so each one gets its own relay.
 */
const relaySource = `import { connect } from 'node:net';
const socket = connect(Number(process.argv[2]), '127.0.0.1');
process.stdin.pipe(socket).on('error', () => process.exit(0));
socket.pipe(process.stdout);
socket.on('close', () => process.exit(0));
socket.on('error', () => process.exit(1));
`;

export function qemuArgv(options: VmOptions, hostPort: number, relayScript = '/dev/null'): string[] {
  // No commas: QEMU's option parser would split the command there.
  const forwards = (options.guestForwards ?? []).map((f) => `guestfwd=tcp:${f.guestAddress}:${f.guestPort}-cmd:${process.execPath} ${relayScript} ${f.hostPort}`);
  const netdev = ['user', 'id=n0', 'restrict=on', ...forwards, ...(options.exposePort ? [`hostfwd=tcp:127.0.0.1:${hostPort}-:${options.exposePort}`] : [])].join(',');
  const argv = [
    '-accel', 'tcg,thread=multi', '-cpu', 'max', '-m', String(options.memoryMiB ?? 512), '-smp', String(options.cpus ?? 2),
    '-nodefaults', '-no-reboot', '-display', 'none', '-monitor', 'none', '-serial', 'stdio',
    '-kernel', options.kernel, '-initrd', options.initrd, '-append', `console=ttyS0 ${options.append}`,
    '-netdev', netdev, '-device', `virtio-net-pci,netdev=n0,mac=${options.mac},romfile=`,
    '-device', 'virtio-rng-pci',
  ];
  options.disks.forEach((disk, index) => {
    // Both forms take the next PCI slot, so the guest still names the disks vda, vdb, ... in the order given.
    if (disk.bus === 'virtio' && disk.serial) argv.push('-drive', `if=none,id=vd${index},file=${disk.path},format=raw`, '-device', `virtio-blk-pci,drive=vd${index},serial=${disk.serial}`);
    else if (disk.bus === 'virtio') argv.push('-drive', `file=${disk.path},format=raw,if=virtio`);
    else argv.push('-drive', `if=none,id=nvm${index},file=${disk.path},format=raw`, '-device', `nvme,serial=${disk.serial ?? `INGOTNVME${index}`},drive=nvm${index}`);
  });
  if (options.cdrom) argv.push('-drive', `file=${options.cdrom},media=cdrom,if=ide,readonly=on`);
  return argv;
}

export async function startVm(options: VmOptions): Promise<Vm> {
  installExitHook();
  const hostPort = options.exposePort ? options.hostPort ?? await freePort() : 0;
  const log = createWriteStream(options.consoleLog);
  const startedAt = Date.now();
  // stdin is a pipe so that QEMU never puts a terminal into raw mode.
  const relayScript = join(dirname(options.consoleLog), 'guestfwd-relay.mjs');
  writeFileSync(relayScript, relaySource);
  const child = spawn('qemu-system-x86_64', qemuArgv(options, hostPort, relayScript), { stdio: ['pipe', 'pipe', 'pipe'] });
  if (!child.pid) throw new Error('qemu-system-x86_64 did not start (is qemu-system-x86 installed?)');
  running.add(child);
  const lines: Array<{ at: number; text: string }> = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (line: { at: number; text: string }) => void }>();
  let serial = '';
  const serialWaiters = new Set<() => void>();
  const stamp = () => ((Date.now() - startedAt) / 1000).toFixed(2).padStart(7);
  const onText = (source: 'serial' | 'qemu') => {
    let partial = '';
    return (chunk: Buffer) => {
      const fresh = chunk.toString('utf8').replace(/\r/g, '');
      if (source === 'serial') {
        serial += fresh;
        for (const check of serialWaiters) check();
      }
      const text = partial + fresh;
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      for (const part of parts) {
        const line = { at: (Date.now() - startedAt) / 1000, text: source === 'qemu' ? `[qemu] ${part}` : part };
        lines.push(line);
        log.write(`${stamp()} ${line.text}\n`);
        for (const waiter of waiters) if (waiter.pattern.test(line.text)) { waiters.delete(waiter); waiter.resolve(line); }
      }
    };
  };
  // Writing after QEMU exited fails (EPIPE): writeSerial's callback reports it; no stray 'error' event may crash the run.
  child.stdin!.on('error', () => undefined);
  child.stdout!.on('data', onText('serial'));
  child.stderr!.on('data', onText('qemu'));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => {
    running.delete(child);
    log.write(`${stamp()} [harness] qemu exited (code ${code}, signal ${signal})\n`);
    resolve({ code, signal });
  }));

  /** Settles with `check()`'s first value, tried now and after each chunk of serial output; rejects on timeout or QEMU exit. */
  function waitOnSerial<T>(check: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const settle = (error?: Error, value?: T) => {
        serialWaiters.delete(attempt);
        clearTimeout(timer);
        if (error) reject(error); else resolve(value as T);
      };
      const attempt = () => { const value = check(); if (value !== undefined) settle(undefined, value); };
      const timer = setTimeout(() => settle(new Error(`no serial output matching ${what} within ${timeoutMs / 1000} s; console: ${options.consoleLog}`)), timeoutMs);
      timer.unref();
      serialWaiters.add(attempt);
      attempt();
      void exited.then(({ code, signal }) => {
        if (serialWaiters.has(attempt)) settle(new Error(`QEMU exited (code ${code}, signal ${signal}) before the serial output matched ${what}; console: ${options.consoleLog}`));
      });
    });
  }

  return {
    pid: child.pid, hostPort, consoleLog: options.consoleLog, lines, startedAt, exited,
    serialOutput: () => serial,
    waitForSerial(pattern, timeoutMs, from = 0) {
      return waitOnSerial(() => {
        const match = pattern.exec(serial.slice(from));
        return match ? { text: match[0], end: from + match.index + match[0].length } : undefined;
      }, String(pattern), timeoutMs);
    },
    writeSerial(text) {
      return new Promise((resolve, reject) => child.stdin!.write(text, (error) => (error ? reject(error) : resolve())));
    },
    waitForLine(pattern, timeoutMs) {
      const seen = lines.find((line) => pattern.test(line.text));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = { pattern, resolve: (line: { at: number; text: string }) => { clearTimeout(timer); resolve(line); } };
        const timer = setTimeout(() => { waiters.delete(waiter); reject(new Error(`no console line matching ${pattern} within ${timeoutMs / 1000} s; console: ${options.consoleLog}`)); }, timeoutMs);
        timer.unref();
        waiters.add(waiter);
        void exited.then(({ code, signal }) => {
          if (!waiters.delete(waiter)) return;
          clearTimeout(timer);
          reject(new Error(`QEMU exited (code ${code}, signal ${signal}) before a console line matched ${pattern}; console: ${options.consoleLog}`));
        });
      });
    },
    async stop(graceMs = 5000) {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid!, 'SIGTERM');
        const timer = setTimeout(() => { if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL'); }, graceMs);
        timer.unref();
        await exited;
        clearTimeout(timer);
      }
      await new Promise<void>((resolve) => log.end(() => resolve()));
    },
  };
}
