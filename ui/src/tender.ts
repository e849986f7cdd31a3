// Split tender: payments entered one by one until the sale is covered.
// Only cash may go over (the change); everything else is capped at what is
// left, and QRIS and vouchers need their reference.

import type { TenderInput } from './bindings/TenderInput';

export type Method = 'cash' | 'card' | 'qris' | 'voucher';
export const METHODS: Method[] = ['cash', 'card', 'qris', 'voucher'];

export type TenderState = {
  total: number;
  tenders: TenderInput[];
};

export type TenderError =
  | 'amount_invalid'
  | 'reference_required'
  | 'overpay_noncash'
  | 'already_complete';

export function start(total: number): TenderState {
  return { total, tenders: [] };
}

export function paid(s: TenderState): number {
  return s.tenders.reduce((sum, t) => sum + t.amount, 0);
}

/** What is still to pay (never negative). */
export function remaining(s: TenderState): number {
  return Math.max(0, s.total - paid(s));
}

/** Covered: at least one tender (a zero sale needs none) and nothing left. */
export function isComplete(s: TenderState): boolean {
  return remaining(s) === 0 && (s.tenders.length > 0 || s.total === 0);
}

/** Cash handed back. */
export function change(s: TenderState): number {
  return Math.max(0, paid(s) - s.total);
}

export function needsReference(m: Method): boolean {
  return m === 'qris' || m === 'voucher';
}

/** Why adding this tender is not allowed, or null. */
export function validate(
  s: TenderState,
  method: Method,
  amount: number | null,
  reference: string,
): TenderError | null {
  if (isComplete(s)) return 'already_complete';
  if (amount === null || !Number.isSafeInteger(amount) || amount <= 0) return 'amount_invalid';
  if (needsReference(method) && reference.trim() === '') return 'reference_required';
  if (method !== 'cash' && amount > remaining(s)) return 'overpay_noncash';
  return null;
}

export function add(
  s: TenderState,
  method: Method,
  amount: number,
  reference: string,
): TenderState | TenderError {
  const err = validate(s, method, amount, reference);
  if (err) return err;
  const ref = reference.trim();
  return {
    ...s,
    tenders: [...s.tenders, { method, amount, reference: ref === '' ? null : ref }],
  };
}

export function removeAt(s: TenderState, i: number): TenderState {
  return { ...s, tenders: s.tenders.filter((_, j) => j !== i) };
}

/** What adding `amount` of `method` would leave (for the live display). */
export function preview(s: TenderState, method: Method, amount: number | null) {
  const extra = amount && amount > 0 ? amount : 0;
  const after = paid(s) + extra;
  return {
    remaining: Math.max(0, s.total - after),
    change: method === 'cash' ? Math.max(0, after - s.total) : 0,
    completes: after >= s.total,
  };
}

/** The quick-cash amount for key n (1-based), if there is one. */
export function quickAmount(quick: number[], key: number): number | null {
  return quick[key - 1] ?? null;
}

/**
 * Cash amounts a customer is likely to hand over for `total`: the exact
 * amount, then round figures in Rupiah notes, at most five (the same rule
 * as the core's `quick_cash_amounts`, for what is left of a split tender).
 */
export function quickCash(total: number): number[] {
  const out = [Math.max(0, total)];
  if (total <= 0) return out;
  for (const step of [1_000, 5_000, 10_000, 20_000, 50_000, 100_000]) {
    const r = Math.ceil(total / step) * step;
    if (!out.includes(r)) out.push(r);
  }
  for (const note of [50_000, 100_000]) {
    if (note > total && !out.includes(note)) out.push(note);
  }
  return out.sort((a, b) => a - b).slice(0, 5);
}
