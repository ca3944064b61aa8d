import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCpuinfoFlags, parseLscpu, parseLscpuFields } from './cpu.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('parseLscpu', () => {
  it('reads model, count, architecture, sockets and flags from real lscpu -J output of a KVM guest', () => {
    const cpu = parseLscpu(fixture('lscpu.json'));
    expect(cpu).toMatchObject({ model_name: 'AMD EPYC', count: 2, architecture: 'x86_64', socket_count: 1 });
    expect(cpu.flags).toContain('avx2');
    expect(cpu.flags).toContain('hypervisor');
    expect(cpu.flags.every((flag) => flag.length > 0 && !/\s/.test(flag))).toBe(true);
  });

  it('reports a null frequency when lscpu shows neither CPU max MHz nor CPU MHz, as in this VM', () => {
    expect(parseLscpu(fixture('lscpu.json')).frequency).toBeNull();
  });

  it('prefers CPU max MHz over CPU MHz and finds fields nested under children (util-linux 2.37+ layout)', () => {
    const nested = JSON.stringify({
      lscpu: [
        { field: 'Architecture:', data: 'aarch64' },
        { field: 'CPU(s):', data: '8' },
        {
          field: 'Vendor ID:', data: 'ARM', children: [
            { field: 'Model name:', data: 'Cortex-A72', children: [
              { field: 'Socket(s):', data: '-' },
              { field: 'CPU max MHz:', data: '1500.0000' },
              { field: 'CPU MHz:', data: '600.0000' },
              { field: 'Flags:', data: 'fp asimd evtstrm crc32' },
            ] },
          ],
        },
      ],
    });
    expect(parseLscpu(nested)).toEqual({
      model_name: 'Cortex-A72', frequency: '1500.0000', count: 8, architecture: 'aarch64',
      flags: ['fp', 'asimd', 'evtstrm', 'crc32'], socket_count: 1,
    });
  });

  it('keeps the first occurrence of a field that lscpu repeats', () => {
    const json = JSON.stringify({ lscpu: [{ field: 'Model name:', data: 'big' }, { field: 'Model name:', data: 'LITTLE' }] });
    expect(parseLscpuFields(json).get('model name')).toBe('big');
  });

  it('rejects output that is not JSON or has no CPU count, saying which', () => {
    expect(() => parseLscpu('Architecture: x86_64')).toThrow(/not JSON/);
    expect(() => parseLscpu('{"lscpu":[{"field":"Architecture:","data":"x86_64"}]}')).toThrow(/CPU\(s\)/);
  });
});

describe('parseCpuinfoFlags', () => {
  it('takes the flags line of real /proc/cpuinfo', () => {
    const flags = parseCpuinfoFlags(fixture('cpuinfo.txt'));
    expect(flags).toEqual(parseLscpu(fixture('lscpu.json')).flags);
  });

  it('reads the Features line ARM kernels print and returns nothing when neither exists', () => {
    expect(parseCpuinfoFlags('processor\t: 0\nFeatures\t: fp asimd\n')).toEqual(['fp', 'asimd']);
    expect(parseCpuinfoFlags('processor\t: 0\n')).toEqual([]);
  });
});
