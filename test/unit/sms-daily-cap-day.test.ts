/** The SMS daily cap counts per Asia/Shanghai calendar day (UTC+8, no daylight saving), not per UTC day. */
import { describe, expect, it } from 'vitest';
import { shanghaiDayStart } from '../../workers/sms.worker.ts';

describe('shanghaiDayStart', () => {
  it('is 16:00 UTC of the day before: 23:59 Shanghai is still the same day, 00:00 Shanghai starts the next', () => {
    expect(shanghaiDayStart(new Date('2026-03-05T15:59:59.999Z')).toISOString()).toBe('2026-03-04T16:00:00.000Z');
    expect(shanghaiDayStart(new Date('2026-03-05T16:00:00.000Z')).toISOString()).toBe('2026-03-05T16:00:00.000Z');
    // 07:00 UTC is 15:00 in Shanghai: the day began at 16:00 UTC the evening before.
    expect(shanghaiDayStart(new Date('2026-03-05T07:00:00Z')).toISOString()).toBe('2026-03-04T16:00:00.000Z');
  });

  it('across a month and a year end', () => {
    expect(shanghaiDayStart(new Date('2025-12-31T17:30:00Z')).toISOString()).toBe('2025-12-31T16:00:00.000Z');
    expect(shanghaiDayStart(new Date('2025-12-31T15:30:00Z')).toISOString()).toBe('2025-12-30T16:00:00.000Z');
  });
});
