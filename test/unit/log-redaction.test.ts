import { describe, expect, it } from 'vitest';
import { redactTokens } from '../../src/app.ts';

describe('request log redaction', () => {
  it('never keeps a token query value', () => {
    expect(redactTokens('/ws?token=eyJhbGciOi.abc.def')).toBe('/ws?token=[redacted]');
    expect(redactTokens('/ws?x=1&TOKEN=secret&y=2')).toBe('/ws?x=1&TOKEN=[redacted]&y=2');
    expect(redactTokens('/api/channels')).toBe('/api/channels');
  });
});
