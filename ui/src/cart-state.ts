// The cart as the screen holds it beyond what the core sends: which line
// is selected, which was just changed, and parsing what the cashier typed
// into the discount and quantity dialogs.

import type { CartView } from './bindings/CartView';
import type { DiscountInput } from './bindings/DiscountInput';
import { parseRupiah, rupiah } from './format';

export type CartUi = {
  /** The selected line (F2, F4, +, -, Delete act on it). */
  selected: number | null;
  /** The line the last action touched, highlighted. */
  highlight: number | null;
};

export const emptyUi: CartUi = { selected: null, highlight: null };

function clamp(i: number, len: number): number | null {
  if (len === 0) return null;
  return Math.min(Math.max(i, 0), len - 1);
}

/**
 * After a new cart view arrives: selection and highlight follow the line
 * the core says changed; without one (a removal) the old selection stays
 * where it was, clamped to the shorter cart.
 */
export function afterUpdate(prev: CartUi, cart: CartView): CartUi {
  const len = cart.lines.length;
  if (len === 0) return emptyUi;
  if (cart.changed !== null && cart.changed < len) {
    return { selected: cart.changed, highlight: cart.changed };
  }
  const selected = clamp(prev.selected ?? len - 1, len);
  return { selected, highlight: null };
}

/**
 * After an action on the whole cart (a cart discount): the core's `changed`
 * still names the line of an earlier action, so the selection stays put.
 */
export function keep(prev: CartUi, cart: CartView): CartUi {
  const len = cart.lines.length;
  if (len === 0) return emptyUi;
  return { selected: prev.selected === null ? null : clamp(prev.selected, len), highlight: null };
}

/** After removing line `removed`: the line that took its place, else the last. */
export function afterRemoval(prev: CartUi, removed: number, cart: CartView): CartUi {
  const len = cart.lines.length;
  if (len === 0) return emptyUi;
  const sel = prev.selected ?? removed;
  const next = sel > removed ? sel - 1 : sel;
  return { selected: clamp(next, len), highlight: null };
}

/** Up/Down: moves without wrapping; nothing selected yet starts at the end. */
export function move(prev: CartUi, delta: number, len: number): CartUi {
  if (len === 0) return emptyUi;
  const from = prev.selected ?? len;
  return { selected: clamp(from + delta, len), highlight: prev.highlight };
}

export type Parsed<T> = { ok: true; value: T } | { ok: false };

/**
 * A discount as typed: `10%` / `12,5 %` is a percentage, `5000` /
 * `Rp 5.000` an amount in rupiah, empty removes the discount (`null`).
 */
export function parseDiscount(text: string): Parsed<DiscountInput | null> {
  const t = text.trim();
  if (t === '') return { ok: true, value: null };
  if (t.endsWith('%')) {
    const p = t.slice(0, -1).trim();
    if (!/^\d{1,3}([.,]\d{1,2})?$/.test(p)) return { ok: false };
    const n = Number(p.replace(',', '.'));
    if (n < 0 || n > 100) return { ok: false };
    return { ok: true, value: { kind: 'percent', percent: p } };
  }
  const amount = parseRupiah(t);
  if (amount === null) return { ok: false };
  return { ok: true, value: { kind: 'amount', amount } };
}

/** A discount for the cart table: `10%`, `Rp 5.000`. */
export function discountLabel(d: DiscountInput | null): string {
  if (!d) return '';
  return d.kind === 'percent' ? `${d.percent}%` : rupiah(d.amount);
}

/** A discount back as the cashier would type it, to prefill the dialog. */
export function discountText(d: DiscountInput | null): string {
  if (!d) return '';
  return d.kind === 'percent' ? `${d.percent}%` : String(d.amount);
}

/** A quantity as typed (`3`, `0,450`, `1.5`): a plain check before the core's. */
export function isQuantityText(text: string): boolean {
  const t = text.trim();
  if (!/^\d{1,5}([.,]\d{1,3})?$/.test(t)) return false;
  return Number(t.replace(',', '.')) > 0;
}

/** The quantity text one unit up or down from `milli`, or null below 1. */
export function stepQuantity(milli: number, delta: 1 | -1): string | null {
  const next = milli + delta * 1000;
  if (next <= 0) return null;
  const whole = Math.floor(next / 1000);
  const frac = next % 1000;
  return frac === 0 ? String(whole) : `${whole},${String(frac).padStart(3, '0')}`;
}
