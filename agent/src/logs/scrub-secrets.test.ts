import { describe, expect, it } from 'vitest';
import { scrubSecrets } from './scrub-secrets.ts';

describe('scrubSecrets', () => {
  it('masks an agent_token query parameter wherever it appears in a line, keeping the rest', () => {
    const line = 'GET /v1/commands/?agent_token=s3cr3t-T0k3n&wait=true HTTP/1.1 200';
    expect(scrubSecrets(line)).toBe('GET /v1/commands/?agent_token=***&wait=true HTTP/1.1 200');
  });

  it('masks every occurrence, including one at the end of a line and one in a JSON field', () => {
    const text = 'a agent_token=one\nb "agent_token": "two\\"x" c\nhttp://h/?agent_token=three';
    expect(scrubSecrets(text)).toBe('a agent_token=***\nb "agent_token": "***" c\nhttp://h/?agent_token=***');
  });

  it('leaves text without a token unchanged', () => {
    expect(scrubSecrets('token=abc agent_tokens are fine')).toBe('token=abc agent_tokens are fine');
  });
});
