import { describe, expect, it } from 'vitest';
import { redactUrl } from './redact-url.ts';

const secret = 'Zq9xSECRETtoken_ABCDEFGHIJKLMNOPQRSTUVWXYZ012';

describe('redactUrl, the one way a URL reaches a log or an error', () => {
  it('hides the agent token wherever a URL can carry it: query, odd parameter names, fragments, after a separator', () => {
    const forms = [
      `/v1/commands/?agent_token=${secret}`,
      `/v1/commands/?wait=true&agent_token=${secret}`,
      `/v1/commands/?agent_token[]=${secret}`,
      `/v1/commands/?agent_token[x]=${secret}`,
      `/v1/commands/?agent%5Ftoken=${secret}`,
      `/v1/commands/#agent_token=${secret}`,
      `/v1/commands/?wait=true;agent_token=${secret}`,
      `/v1/commands/?${secret}`,
      `/v1/commands/?a=1&&agent_token=${secret}&`,
      `https://10.0.0.5:9999/v1/commands/?AGENT_TOKEN=${secret}#x`,
      // The secret as a parameter name, or inside the brackets of a known one.
      `/v1/commands/?${secret}=`,
      `/v1/commands/?${secret}=true`,
      `/v1/commands/?agent_token[${secret}]=1`,
      `/v1/commands/?wait[${secret}]=true`,
    ];
    for (const form of forms) expect(redactUrl(form), form).not.toContain(secret);
  });

  it('hides the signatures of object-store URLs and credentials in the authority, also in the forms lenient parsers accept', () => {
    const forms = [
      `https://swift.example/v1/AUTH_x/images/disk.img?temp_url_sig=${secret}&temp_url_expires=1700000000`,
      `https://s3.example/bucket/disk.img?X-Amz-Credential=AKIA%2F20260101&X-Amz-Signature=${secret}`,
      `http://user:${secret}@images.example/disk.img`,
      `http://user:p@ss${secret}@images.example/disk.img`,
      `http:\\\\user:${secret}@images.example/disk.img`,
      `//user:${secret}@images.example/disk.img`,
    ];
    for (const form of forms) expect(redactUrl(form), form).not.toContain(secret);
    expect(redactUrl(`http://user:${secret}@images.example/disk.img`)).toBe('http://***@images.example/disk.img');
  });

  it('keeps what an operator needs to read: the path, parameter names, and the values known to be harmless', () => {
    expect(redactUrl(`/v1/commands/?wait=true&agent_token=${secret}`)).toBe('/v1/commands/?wait=true&agent_token=***');
    expect(redactUrl('http://192.0.2.1:6385/v1/lookup?addresses=52%3A54%3A00%3A12%3A34%3A56&node_uuid=1be26c0b-03f2-4d4e-9e8c-5f1b5c1b0a01'))
      .toBe('http://192.0.2.1:6385/v1/lookup?addresses=52%3A54%3A00%3A12%3A34%3A56&node_uuid=1be26c0b-03f2-4d4e-9e8c-5f1b5c1b0a01');
    expect(redactUrl(new URL('https://images.example/disk.img'))).toBe('https://images.example/disk.img');
    expect(redactUrl('https://images.example/disk.img?')).toBe('https://images.example/disk.img?');
  });

  it('shows only the parameter names Ingot, Ironic and object stores use, and a known name without what its brackets held', () => {
    expect(redactUrl('/v1/commands/?agent_token[x]=1&whatever=2&X-Amz-Signature=3')).toBe('/v1/commands/?agent_token[***]=***&***=***&X-Amz-Signature=***');
  });

  it('hides a harmless parameter whose value does not have the harmless shape', () => {
    expect(redactUrl(`/v1/commands/?wait=${secret}`)).toBe('/v1/commands/?wait=***');
    expect(redactUrl('/v1/lookup?node_uuid=not-a-uuid')).toBe('/v1/lookup?node_uuid=***');
  });
});
