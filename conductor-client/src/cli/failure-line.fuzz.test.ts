/**
 * The failure line names URLs (the image's, the agent's callback) and takes
 * its reason from errors an agent sent: whatever their codes and the image
 * URL, the line is one line and never shows a secret of the URL (userinfo,
 * query values such as a Swift temp URL's signature, the fragment).
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { errorCodes, IngotError, type ErrorCode } from '@ingot/protocol';
import { fuzz } from '../../../test/support/fuzz.ts';
import { oddString } from '../../../test/support/fuzz-inputs.ts';
import { failureLine, jsonError, failureHint, type FailureContext } from './failure-line.ts';

const SECRET = 'S3CRETsig';
const codes = Object.keys(errorCodes) as ErrorCode[];
const safeText = oddString.map((text) => text.replaceAll(SECRET, ''));
/** An image URL carrying the secret where URLs carry secrets. */
const imageUrl = fc.tuple(
  fc.constantFrom('http', 'https', 'HTTP'), fc.boolean(), fc.constantFrom('img.example', '192.0.2.1:8080', '[2001:db8::1]'), fc.webPath(),
  fc.array(fc.tuple(fc.constantFrom('temp_url_sig', 'temp_url_expires', 'X-Amz-Signature', 'token', 'a', 'filename'), fc.boolean()), { maxLength: 4 }), fc.boolean(),
).map(([scheme, user, host, path, query, fragment]) => {
  const search = query.map(([name, secret]) => `${name}=${secret ? SECRET : '1700000000'}`).join('&');
  return `${scheme}://${user ? `admin:${SECRET}@` : ''}${host}${path}${search ? `?${search}` : ''}${fragment ? `#${SECRET}` : ''}`;
});
/** A chain of errors as the drivers build them: a wrapper, the agent's error, a cause. */
const chain = fc.array(fc.tuple(fc.constantFrom(...codes), safeText), { minLength: 1, maxLength: 3 }).map((links) =>
  links.reduceRight<Error | undefined>((cause, [code, details]) => new IngotError(code, { details, cause }), undefined)!);

it('keeps the failure line on one line and every URL secret out of it', async () => {
  await fuzz('conductor failure line', 300, fc.property(chain, imageUrl, fc.option(safeText, { nil: undefined }), fc.option(safeText, { nil: undefined }), (error, url, logsPath, raidConfigPath) => {
    const context: FailureContext = {
      nodeUuid: '1be26c0b-03f2-4d4e-9e8c-5f1b5c1b0a01', macs: ['52:54:00:12:34:56'], conductorUrl: 'http://127.0.0.1:6385',
      agentUrl: 'https://127.0.0.1:9999', image: { url, algorithm: 'sha256' }, logsPath, raidConfigPath, timeoutSeconds: 600, verbose: false,
    };
    const line = failureLine(error, context);
    const hint = failureHint(error, context);
    expect(line).not.toMatch(/[\n\r\u2028\u2029]/);
    for (const text of [line, hint, JSON.stringify(jsonError(error, hint))]) expect(text).not.toContain(SECRET);
    expect(line).toContain(`; try: ${hint.replace(/[\u0000-\u001f\u007f-\u009f\s]+/g, " ").trim()}`);
  }));
});
