import { mkdtemp, readFile, realpath, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isIngotError } from '@ingot/protocol';
import { createDeviceGuard } from './device-guard.ts';
import { createRealSystem, resolveLinks } from './real-system.ts';
import { ToolError } from './system.ts';

describe('createRealSystem run', () => {
  it('hands stdout to onStdout as it arrives, and still returns all of it', async () => {
    const system = createRealSystem({ guard: createDeviceGuard({ mode: 'sandbox', disks: [] }) });
    const seen: Array<{ text: string; at: number }> = [];
    const started = Date.now();
    const result = await system.run(['sh', '-c', 'printf "(10.00/100%%)\\r"; sleep 0.3; printf "(100.00/100%%)\\r"'], {
      onStdout: (text) => seen.push({ text, at: Date.now() - started }),
    });
    expect(result.stdout).toBe('(10.00/100%)\r(100.00/100%)\r');
    expect(seen.map((s) => s.text).join('')).toBe(result.stdout);
    expect(seen[0]!.text).toBe('(10.00/100%)\r');
    expect(seen[0]!.at).toBeLessThan(250); // before the command ended
  });
});

/** The code of what `promise` rejects with, or 'resolved'. */
const outcome = (promise: Promise<unknown>) => promise.then(() => 'resolved', (error: unknown) => (isIngotError(error) ? error.code : String(error)));

describe('the real System in sandbox mode, judging paths by where their symlinks lead', () => {
  let dir = '';
  let given = '';
  let other = '';
  let system: ReturnType<typeof createRealSystem>;
  const original = Buffer.alloc(8192, 0xaa);

  beforeAll(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'ingot-real-system-')));
    given = join(dir, 'given.img');
    other = join(dir, 'other.img');
    await writeFile(given, original);
    await writeFile(other, original);
    await symlink(given, join(dir, 'to-given'));
    await symlink('other.img', join(dir, 'to-other')); // relative, as udev's /dev/disk/by-* links are
    await symlink(join(dir, 'to-other'), join(dir, 'to-to-other'));
    await symlink('/dev/null', join(dir, 'to-null'));
    await symlink('/dev/ingot-test-no-such-disk', join(dir, 'to-missing-disk')); // dangling
    await symlink('/dev', join(dir, 'dev-dir'));
    await symlink('/proc', join(dir, 'proc-dir'));
    system = createRealSystem({ guard: createDeviceGuard({ mode: 'sandbox', disks: [given] }) });
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('follows links to their end, dangling ones and links in parent directories included', () => {
    expect(resolveLinks(join(dir, 'to-to-other'))).toBe(other);
    expect(resolveLinks(join(dir, 'to-missing-disk'))).toBe('/dev/ingot-test-no-such-disk');
    expect(resolveLinks(join(dir, 'dev-dir', 'ingot-test-sdz'))).toBe('/dev/ingot-test-sdz');
    expect(resolveLinks(join(dir, 'to-null'))).toBe('/dev/null');
    expect(resolveLinks(join(dir, 'nothing', '..', 'to-given'))).toBe(given);
  });

  it('zeroes a given disk file through a link to it, and refuses one that is not given, through one link or two, leaving it untouched', async () => {
    await system.zeroRange(join(dir, 'to-given'), 0, 4096);
    expect((await readFile(given)).subarray(0, 4096).every((b) => b === 0)).toBe(true);
    for (const link of ['to-other', 'to-to-other']) {
      expect(await outcome(system.zeroRange(join(dir, link), 0, 4096))).toBe('INGOT_DEVICE_NOT_ALLOWED');
      expect(await outcome(system.openDisk(join(dir, link), { write: true }))).toBe('INGOT_DEVICE_NOT_ALLOWED');
      expect(await outcome(system.writeRange(join(dir, link), 0, Buffer.alloc(16)))).toBe('INGOT_DEVICE_NOT_ALLOWED');
    }
    expect(await readFile(other)).toEqual(original);
  });

  it('counts a given disk under what its own link leads to', async () => {
    const byLink = createRealSystem({ guard: createDeviceGuard({ mode: 'sandbox', disks: [join(dir, 'to-given')] }) });
    expect(await outcome(byLink.readRange(given, 0, 16))).toBe('resolved');
    expect(await outcome(byLink.readRange(other, 0, 16))).toBe('INGOT_DEVICE_NOT_ALLOWED');
  });

  it('refuses a tool an argument that leads into /dev, by a dangling link, a linked directory or a /dev/disk/by-* name, and lets one through that leads to /dev/null', async () => {
    for (const argument of [join(dir, 'to-missing-disk'), join(dir, 'dev-dir', 'ingot-test-sdz'), '/dev/disk/by-id/ingot-test-wwn', `of=${join(dir, 'to-missing-disk')}`]) {
      expect(await outcome(system.run(['true', argument])), argument).toBe('INGOT_DEVICE_NOT_ALLOWED');
      expect(() => system.spawn(['true', argument])).toThrow(/refusing to run true on/);
    }
    expect((await system.run(['cat', join(dir, 'to-null')])).exitCode).toBe(0);
    expect((await system.run(['cat', join(dir, 'to-given')])).stdout.length).toBe(original.length);
  });

  it('never writes under /proc or /sys, by name or through a link', async () => {
    // Paths that do not exist: were the guard to let them through, the write would fail on its own and harm nothing.
    for (const path of ['/proc/ingot-test-no-such-file', '/sys/ingot-test-no-such-file', join(dir, 'proc-dir', 'ingot-test-no-such-file')]) {
      expect(await outcome(system.writeText(path, 'x')), path).toBe('INGOT_DEVICE_NOT_ALLOWED');
      expect(await outcome(system.makeDir(path)), path).toBe('INGOT_DEVICE_NOT_ALLOWED');
    }
    await system.writeText(join(dir, 'note.txt'), 'plain files are fine', { mode: 0o600 });
    expect(await readFile(join(dir, 'note.txt'), 'utf8')).toBe('plain files are fine');
  });
});

describe('the real System\'s files, directories and tools', () => {
  const system = createRealSystem({ guard: createDeviceGuard({ mode: 'sandbox', disks: [] }) });

  it('removes the temporary directories it made, with their files, and refuses to remove any other', async () => {
    const made = await system.createTempDir(tmpdir(), 'ingot-temp-test-');
    const file = await system.createFile(join(made, 'staged'), { mode: 0o600 });
    file.writeAtSync(Buffer.from('staged bytes'), 0);
    await file.truncate(6);
    await file.close();
    expect(await readFile(join(made, 'staged'), 'utf8')).toBe('staged');
    await expect(system.createFile(join(made, 'staged'), { mode: 0o600 })).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(system.removeTempDir(tmpdir())).rejects.toThrow(/not a directory this System created/);
    await system.removeTempDir(made);
    expect(await system.exists(made)).toBe(false);
    expect(await system.freeSpace(tmpdir())).toBeGreaterThan(0);
  });

  it('tells when the file it opened is gone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ingot-present-'));
    try {
      const path = join(dir, 'disk.img');
      await writeFile(path, Buffer.alloc(4096));
      const disk = await createRealSystem({ guard: createDeviceGuard({ mode: 'sandbox', disks: [path] }) }).openDisk(path, { write: true });
      expect(await disk.stillPresent()).toBe(true);
      await unlink(path);
      expect(await disk.stillPresent()).toBe(false);
      await writeFile(path, Buffer.alloc(4096)); // another file under the same name
      expect(await disk.stillPresent()).toBe(false);
      await disk.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('streams a spawned tool\'s output, and rejects its exit with a ToolError naming its stderr', async () => {
    const cat = system.spawn(['cat']);
    const chunks: Buffer[] = [];
    cat.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    cat.stdin.end('through the pipe');
    await cat.exited;
    expect(Buffer.concat(chunks).toString()).toBe('through the pipe');
    const failing = system.spawn(['sh', '-c', 'echo broken stream >&2; exit 3']);
    failing.stdin.end();
    const error = await failing.exited.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolError);
    expect((error as ToolError).exitCode).toBe(3);
    expect((error as ToolError).message).toMatch(/broken stream/);
  });
});
