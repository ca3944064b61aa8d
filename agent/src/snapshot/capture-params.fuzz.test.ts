import fc from 'fast-check';
import { expect, it } from 'vitest';
import { fuzz } from '../../../test/support/fuzz.ts';
import { mutated, oddValue, parsesOrRefuses } from '../../../test/support/fuzz-inputs.ts';
import { parseCaptureParams } from './capture-params.ts';

const MiB = 1024 * 1024;
/** In every URL: whatever is refused, the message must not carry it. */
const SIGNATURE = 'S3cr3tSignature0123456789abcdef';
const valid = {
  device: '/dev/sda', partitions: [1, 2], frame_size: 4 * MiB, level: 3, segment_retries: 4,
  target: { type: 's3', part_urls: [`https://s3.example/b/k?partNumber=1&X-Amz-Signature=${SIGNATURE}`], segment_size: 8 * MiB },
};
const targets = fc.oneof(
  mutated({ type: 'http_put', url: `http://127.0.0.1/x?temp_url_sig=${SIGNATURE}`, manifest_url: `ht tp://127.0.0.1/x.json?temp_url_sig=${SIGNATURE}` }),
  mutated({ type: 'swift', segment_urls: [`http://127.0.0.1/s/0?temp_url_sig=${SIGNATURE}`, `gopher://h/?sig=${SIGNATURE}`], segment_size: MiB }),
  mutated(valid.target),
  oddValue,
);

it('accepts what it should and refuses anything else with a 400 naming a field, never echoing a URL', async () => {
  await fuzz('parseCaptureParams: valid params or a 400 naming the field', 1_000, fc.property(
    mutated(valid, ['root_device_hints', 'target']), targets, fc.boolean(),
    (params, target, replaceTarget) => {
      const signed = replaceTarget ? { ...params, target } : params;
      const outcome = parsesOrRefuses(() => parseCaptureParams(signed), ['INGOT_INVALID_PARAMS'], /device|root_device_hints|partitions|frame_size|level|segment_retries|target/);
      if ('error' in outcome) {
        expect(outcome.error.status).toBe(400);
        expect(outcome.error.message).not.toContain(SIGNATURE);
        return;
      }
      const request = outcome.value;
      expect(request.frameSize % MiB).toBe(0);
      expect(request.level).toBeGreaterThanOrEqual(1);
      expect(request.level).toBeLessThanOrEqual(19);
      for (const n of request.partitions ?? []) expect(Number.isSafeInteger(n) && n > 0).toBe(true);
      expect(['http_put', 'swift', 's3']).toContain(request.target.type);
    },
  ));
});
