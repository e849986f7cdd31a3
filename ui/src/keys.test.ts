import { describe, expect, it } from 'vitest';
import {
  WedgeDetector,
  doneAction,
  isReservedKey,
  looksScanned,
  saleAction,
  tenderAction,
  wantsSearch,
} from './keys';

const ctx = (o: Partial<{ inputEmpty: boolean; cartEmpty: boolean; searchOpen: boolean }> = {}) => ({
  inputEmpty: true,
  cartEmpty: false,
  searchOpen: false,
  ...o,
});

describe('sale keys', () => {
  it('Enter scans typed text, tenders on an empty input, does nothing on an empty cart', () => {
    expect(saleAction({ key: 'Enter' }, ctx({ inputEmpty: false }))).toBe('submit_scan');
    expect(saleAction({ key: 'Enter' }, ctx())).toBe('tender');
    expect(saleAction({ key: 'Enter' }, ctx({ cartEmpty: true }))).toBeNull();
    expect(saleAction({ key: 'Enter' }, ctx({ inputEmpty: false, searchOpen: true }))).toBe('search_pick');
  });
  it('maps the function keys', () => {
    expect(saleAction({ key: 'F2' }, ctx())).toBe('edit_qty');
    expect(saleAction({ key: 'F4' }, ctx())).toBe('line_discount');
    expect(saleAction({ key: 'F5' }, ctx())).toBe('cart_discount');
    expect(saleAction({ key: 'F6' }, ctx())).toBe('park');
    expect(saleAction({ key: 'F7' }, ctx({ cartEmpty: true }))).toBe('parked');
    expect(saleAction({ key: 'F8' }, ctx())).toBe('receipt_menu');
    expect(saleAction({ key: 'F9' }, ctx())).toBe('shift_menu');
    expect(saleAction({ key: 'F10' }, ctx())).toBe('sync_screen');
    expect(saleAction({ key: 'F11' }, ctx())).toBe('settings');
    expect(saleAction({ key: 'F12' }, ctx())).toBe('tender');
    expect(saleAction({ key: 'F12' }, ctx({ cartEmpty: true }))).toBeNull();
    expect(saleAction({ key: 'l', ctrlKey: true }, ctx())).toBe('lock');
  });
  it('treats + - * Delete as text while something is typed', () => {
    expect(saleAction({ key: '+' }, ctx())).toBe('qty_inc');
    expect(saleAction({ key: '-' }, ctx())).toBe('qty_dec');
    expect(saleAction({ key: '*' }, ctx())).toBe('edit_qty');
    expect(saleAction({ key: 'Delete' }, ctx())).toBe('remove_line');
    expect(saleAction({ key: '*' }, ctx({ inputEmpty: false }))).toBeNull();
    expect(saleAction({ key: '-' }, ctx({ inputEmpty: false }))).toBeNull();
    expect(saleAction({ key: 'Delete' }, ctx({ inputEmpty: false }))).toBeNull();
  });
  it('arrows move the search selection when it is open, else the cart line', () => {
    expect(saleAction({ key: 'ArrowUp' }, ctx())).toBe('select_up');
    expect(saleAction({ key: 'ArrowDown' }, ctx({ searchOpen: true }))).toBe('search_down');
    expect(saleAction({ key: 'Escape' }, ctx({ searchOpen: true }))).toBe('search_close');
    expect(saleAction({ key: 'Escape' }, ctx({ inputEmpty: false }))).toBe('clear_input');
    expect(saleAction({ key: 'a' }, ctx())).toBeNull();
  });
});

describe('tender keys', () => {
  it('1-5 pick quick cash unless typing, where Alt is needed', () => {
    expect(tenderAction({ key: '1' }, false)).toEqual({ kind: 'quick_cash', index: 0 });
    expect(tenderAction({ key: '5' }, false)).toEqual({ kind: 'quick_cash', index: 4 });
    expect(tenderAction({ key: '6' }, false)).toBeNull();
    expect(tenderAction({ key: '3' }, true)).toBeNull();
    expect(tenderAction({ key: '3', altKey: true }, true)).toEqual({ kind: 'quick_cash', index: 2 });
  });
  it('Enter submits, Esc cancels, F1-F4 choose the method', () => {
    expect(tenderAction({ key: 'Enter' }, true)).toEqual({ kind: 'submit' });
    expect(tenderAction({ key: 'Escape' }, true)).toEqual({ kind: 'cancel' });
    expect(tenderAction({ key: 'F3' }, true)).toEqual({ kind: 'method', method: 'qris' });
  });
  it('done screen: Enter/Esc start the next sale', () => {
    expect(doneAction({ key: 'Enter' })).toBe('next_sale');
    expect(doneAction({ key: 'Escape' })).toBe('next_sale');
    expect(doneAction({ key: '8' })).toBe('type_ahead');
    expect(doneAction({ key: 'c', ctrlKey: true })).toBeNull();
    expect(doneAction({ key: 'Shift' })).toBeNull();
  });
  it('reserves F5 and Ctrl+R so the web view does not reload', () => {
    expect(isReservedKey({ key: 'F5' })).toBe(true);
    expect(isReservedKey({ key: 'r', ctrlKey: true })).toBe(true);
    expect(isReservedKey({ key: 'a' })).toBe(false);
  });
});

describe('wedge scanner detection', () => {
  it('a fast burst is a scanner, human typing is not', () => {
    expect(looksScanned([0, 8, 15, 22, 30, 41])).toBe(true);
    expect(looksScanned([0, 120, 260, 400])).toBe(false);
    expect(looksScanned([0, 5, 10])).toBe(false);
    const w = new WedgeDetector();
    for (const t of [1000, 1010, 1020, 1080]) w.key(t);
    expect(w.isBurst()).toBe(false);
    w.reset();
    for (const t of [2000, 2004, 2009, 2013, 2020]) w.key(t);
    expect(w.isBurst()).toBe(true);
  });
  it('searches names, not codes', () => {
    expect(wantsSearch('indomie')).toBe(true);
    expect(wantsSearch('8991234567890')).toBe(false);
    expect(wantsSearch('3*8991')).toBe(false);
    expect(wantsSearch('a')).toBe(false);
  });
});
