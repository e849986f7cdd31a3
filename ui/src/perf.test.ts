import { describe, expect, it } from 'vitest';
import { MAX_SCAN_TIMINGS, perf, recordScan } from './perf';

describe('scan timings', () => {
  it('keep the latest and never grow with the uptime', () => {
    (globalThis as { window?: unknown }).window ??= globalThis;
    for (let i = 0; i < 5 * MAX_SCAN_TIMINGS; i++) recordScan(i);
    const scans = perf().scans;
    expect(scans.length).toBeLessThan(2 * MAX_SCAN_TIMINGS);
    expect(scans.length).toBeGreaterThanOrEqual(MAX_SCAN_TIMINGS);
    expect(scans.at(-1)).toBe(5 * MAX_SCAN_TIMINGS - 1);
  });
});
