import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fuserArgv, isHeld, parseFuserPids } from './fuser.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('fuser', () => {
  it('checks every given path at once', () => {
    expect(fuserArgv(['/dev/loop0', '/dev/loop0p1'])).toEqual(['fuser', '/dev/loop0', '/dev/loop0p1']);
  });

  it('reads the PIDs holding a partition, and nothing from an idle disk', () => {
    expect(parseFuserPids(fixture('fuser-held.stdout.txt'))).toEqual([11196]);
    expect(parseFuserPids(fixture('fuser-idle.stdout.txt'))).toEqual([]);
  });

  it('takes exit code 0 as held and anything else as idle', () => {
    expect(isHeld(0)).toBe(true);
    expect(isHeld(1)).toBe(false);
  });
});
