import { describe, expect, it } from 'vitest';
import { parseParametersFile } from './parameters-file.ts';

describe('parseParametersFile', () => {
  it('reads whitespace-separated key=value words across lines, the last one winning', () => {
    const { params, skipped } = parseParametersFile('ipa-api-url=http://192.0.2.1:6385  BOOTIF=01-52-54-00-12-34-56\n\tipa-debug=1 ipa-debug=0\n');
    expect(params).toEqual({ 'ipa-api-url': 'http://192.0.2.1:6385', BOOTIF: '01-52-54-00-12-34-56', 'ipa-debug': '0' });
    expect(skipped).toEqual([]);
  });

  it('keeps "=" inside values and skips words without one, as IPA does', () => {
    const { params, skipped } = parseParametersFile('ipa-agent-token=abc=def nofb quiet ipa-x=');
    expect(params).toEqual({ 'ipa-agent-token': 'abc=def', 'ipa-x': '' });
    expect(skipped).toEqual(['nofb', 'quiet']);
  });

  it('ignores comment lines and Windows line ends', () => {
    expect(parseParametersFile('# made by ingot image-build\r\nipa-insecure=0\r\n').params).toEqual({ 'ipa-insecure': '0' });
  });
});
