/** Redis Cluster failover errors are "a backing service is unavailable" (503 QIAO_UNAVAILABLE), never QIAO_INTERNAL. */
import { describe, expect, it } from 'vitest';
import { toQiaoError } from '../../src/errors/codes.ts';

describe('cluster errors', () => {
  it.each([
    'CLUSTERDOWN The cluster is down',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    'Too many Cluster redirections. Last error: Error: Connection is closed.',
    'None of startup nodes is available',
    'Failed to refresh slots cache.',
  ])('%s → QIAO_UNAVAILABLE', (message) => {
    expect(toQiaoError(new Error(message)).code).toBe('QIAO_UNAVAILABLE');
  });

  it('a cross-slot request is a bug, not an outage', () => {
    expect(toQiaoError(new Error("CROSSSLOT Keys in request don't hash to the same slot")).code).toBe('QIAO_INTERNAL');
  });
});
