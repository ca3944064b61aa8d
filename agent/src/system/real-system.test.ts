import { describe, expect, it } from 'vitest';
import { createDeviceGuard } from './device-guard.ts';
import { createRealSystem } from './real-system.ts';

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
