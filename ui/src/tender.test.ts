import { describe, expect, it } from 'vitest';
import { add, change, isComplete, paid, preview, quickCash, remaining, removeAt, start, validate } from './tender';

describe('split tender', () => {
  it('accumulates until nothing is left', () => {
    let s = start(37500);
    const a = add(s, 'qris', 20000, 'QR-1');
    if (typeof a === 'string') throw new Error(a);
    s = a;
    expect(remaining(s)).toBe(17500);
    expect(isComplete(s)).toBe(false);
    const b = add(s, 'cash', 20000, '');
    if (typeof b === 'string') throw new Error(b);
    s = b;
    expect(paid(s)).toBe(40000);
    expect(remaining(s)).toBe(0);
    expect(change(s)).toBe(2500);
    expect(isComplete(s)).toBe(true);
    expect(s.tenders[1]).toEqual({ method: 'cash', amount: 20000, reference: null });
    expect(validate(s, 'cash', 1000, '')).toBe('already_complete');
    expect(remaining(removeAt(s, 0))).toBe(17500);
  });
  it('validates per method', () => {
    const s = start(10000);
    expect(validate(s, 'qris', 10000, '  ')).toBe('reference_required');
    expect(validate(s, 'voucher', 5000, '')).toBe('reference_required');
    expect(validate(s, 'card', 10000, '')).toBeNull();
    expect(validate(s, 'card', 12000, '')).toBe('overpay_noncash');
    expect(validate(s, 'cash', 50000, '')).toBeNull();
    expect(validate(s, 'cash', 0, '')).toBe('amount_invalid');
    expect(validate(s, 'cash', null, '')).toBe('amount_invalid');
  });
  it('previews change for cash only', () => {
    const s = start(12500);
    expect(preview(s, 'cash', 20000)).toEqual({ remaining: 0, change: 7500, completes: true });
    expect(preview(s, 'card', 5000)).toEqual({ remaining: 7500, change: 0, completes: false });
  });
  it('quick cash matches the core', () => {
    expect(quickCash(37500)).toEqual([37500, 38000, 40000, 50000, 100000]);
    expect(quickCash(100000)).toEqual([100000]);
    expect(quickCash(1200)).toEqual([1200, 2000, 5000, 10000, 20000]);
    expect(quickCash(0)).toEqual([0]);
  });
});
