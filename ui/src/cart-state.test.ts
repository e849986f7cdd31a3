import { describe, expect, it } from 'vitest';
import type { CartView } from './bindings/CartView';
import {
  afterRemoval,
  afterUpdate,
  keep,
  discountLabel,
  emptyUi,
  isQuantityText,
  move,
  parseDiscount,
  stepQuantity,
} from './cart-state';

function cart(n: number, changed: number | null): CartView {
  return {
    lines: Array.from({ length: n }, (_, i) => ({
      index: i,
      sku: `S${i}`,
      name: `Item ${i}`,
      quantity_milli: 1000,
      unit_price: 1000,
      discount: null,
      gross: 1000,
      discount_amount: 0,
      on_hand_milli: null,
      total: 1000,
    })),
    discount: null,
    gross: n * 1000,
    discounts: 0,
    tax: 0,
    total: n * 1000,
    tax_mode: 'inclusive',
    changed,
    quick_cash: [],
  };
}

describe('selection', () => {
  it('follows the changed line', () => {
    expect(afterUpdate(emptyUi, cart(3, 2))).toEqual({ selected: 2, highlight: 2 });
    expect(afterUpdate({ selected: 2, highlight: 2 }, cart(3, 0))).toEqual({ selected: 0, highlight: 0 });
  });
  it('clamps after a removal', () => {
    // Last of three removed while selected: the new last line.
    expect(afterRemoval({ selected: 2, highlight: 2 }, 2, cart(2, null)).selected).toBe(1);
    // A middle line removed: the one that moved up into its place.
    expect(afterRemoval({ selected: 1, highlight: null }, 1, cart(2, null)).selected).toBe(1);
    // A line above the selection removed: selection moves with its line.
    expect(afterRemoval({ selected: 2, highlight: null }, 0, cart(2, null)).selected).toBe(1);
    expect(afterRemoval({ selected: 0, highlight: null }, 0, cart(0, null))).toEqual(emptyUi);
    expect(afterUpdate({ selected: 5, highlight: null }, cart(2, null)).selected).toBe(1);
  });
  it('stays put after a cart discount, whatever the old changed line', () => {
    expect(keep({ selected: 0, highlight: 2 }, cart(3, 2))).toEqual({ selected: 0, highlight: null });
    expect(keep({ selected: null, highlight: null }, cart(3, 2)).selected).toBeNull();
  });
  it('moves with the arrows without wrapping', () => {
    expect(move({ selected: 0, highlight: null }, -1, 3).selected).toBe(0);
    expect(move({ selected: 1, highlight: null }, 1, 3).selected).toBe(2);
    expect(move({ selected: 2, highlight: null }, 1, 3).selected).toBe(2);
    expect(move(emptyUi, -1, 3).selected).toBe(2);
  });
});

describe('discount input', () => {
  it('tells percent from amount', () => {
    expect(parseDiscount('10%')).toEqual({ ok: true, value: { kind: 'percent', percent: '10' } });
    expect(parseDiscount('12,5 %')).toEqual({ ok: true, value: { kind: 'percent', percent: '12,5' } });
    expect(parseDiscount('5000')).toEqual({ ok: true, value: { kind: 'amount', amount: 5000 } });
    expect(parseDiscount('Rp 5.000')).toEqual({ ok: true, value: { kind: 'amount', amount: 5000 } });
    expect(parseDiscount('')).toEqual({ ok: true, value: null });
    expect(parseDiscount('150%').ok).toBe(false);
    expect(parseDiscount('ten').ok).toBe(false);
    expect(discountLabel({ kind: 'amount', amount: 2500 })).toBe('Rp 2.500');
    expect(discountLabel({ kind: 'percent', percent: '10' })).toBe('10%');
  });
  it('checks quantities and steps them', () => {
    expect(isQuantityText('0,450')).toBe(true);
    expect(isQuantityText('3')).toBe(true);
    expect(isQuantityText('0')).toBe(false);
    expect(isQuantityText('1,2345')).toBe(false);
    expect(stepQuantity(1000, 1)).toBe('2');
    expect(stepQuantity(1000, -1)).toBeNull();
    expect(stepQuantity(1450, -1)).toBe('0,450');
  });
});
