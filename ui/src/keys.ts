// Keyboard map of the till: which key does what on which screen. Pure, so
// it is tested without a DOM; the components only perform the actions.

export type KeyLike = {
  key: string;
  ctrlKey?: boolean;
  altKey?: boolean;
  metaKey?: boolean;
  shiftKey?: boolean;
};

export type SaleAction =
  | 'lock'
  | 'tender'
  | 'submit_scan'
  | 'search_up'
  | 'search_down'
  | 'search_pick'
  | 'search_close'
  | 'clear_input'
  | 'select_up'
  | 'select_down'
  | 'qty_inc'
  | 'qty_dec'
  | 'edit_qty'
  | 'remove_line'
  | 'line_discount'
  | 'cart_discount'
  | 'park'
  | 'parked'
  | 'receipt_menu'
  | 'shift_menu'
  | 'sync_screen'
  | 'settings';

export type SaleContext = {
  /** The scan input holds no text. */
  inputEmpty: boolean;
  cartEmpty: boolean;
  /** Name-search results are showing. */
  searchOpen: boolean;
};

const plain = (e: KeyLike) => !e.ctrlKey && !e.altKey && !e.metaKey;

/** Function keys that mean something on any signed-in screen. */
export function globalAction(e: KeyLike): SaleAction | null {
  if (e.ctrlKey && !e.altKey && (e.key === 'l' || e.key === 'L')) return 'lock';
  if (!plain(e)) return null;
  switch (e.key) {
    case 'F10':
      return 'sync_screen';
    case 'F11':
      return 'settings';
    default:
      return null;
  }
}

/** The sale screen, focus in the scan input. */
export function saleAction(e: KeyLike, ctx: SaleContext): SaleAction | null {
  const g = globalAction(e);
  if (g) return g;
  if (!plain(e)) return null;
  switch (e.key) {
    case 'F2':
      return ctx.cartEmpty ? null : 'edit_qty';
    case 'F4':
      return ctx.cartEmpty ? null : 'line_discount';
    case 'F5':
      return ctx.cartEmpty ? null : 'cart_discount';
    case 'F6':
      return ctx.cartEmpty ? null : 'park';
    case 'F7':
      return 'parked';
    case 'F8':
      return 'receipt_menu';
    case 'F9':
      return 'shift_menu';
    case 'F12':
      return ctx.cartEmpty ? null : 'tender';
    case 'Enter':
      if (ctx.searchOpen) return 'search_pick';
      if (!ctx.inputEmpty) return 'submit_scan';
      return ctx.cartEmpty ? null : 'tender';
    case 'Escape':
      if (ctx.searchOpen) return 'search_close';
      return ctx.inputEmpty ? null : 'clear_input';
    case 'ArrowUp':
      return ctx.searchOpen ? 'search_up' : ctx.cartEmpty ? null : 'select_up';
    case 'ArrowDown':
      return ctx.searchOpen ? 'search_down' : ctx.cartEmpty ? null : 'select_down';
  }
  // Keys that are also text (a code like `3*CODE` or `AB-12`) act only on
  // an empty input.
  if (!ctx.inputEmpty || ctx.cartEmpty) return null;
  switch (e.key) {
    case '+':
      return 'qty_inc';
    case '-':
      return 'qty_dec';
    case '*':
      return 'edit_qty';
    case 'Delete':
      return 'remove_line';
    default:
      return null;
  }
}

export type TenderAction =
  | { kind: 'quick_cash'; index: number }
  | { kind: 'method'; method: 'cash' | 'card' | 'qris' | 'voucher' }
  | { kind: 'submit' }
  | { kind: 'cancel' };

/**
 * The tender screen. `editing` is true while focus is in a text field
 * there: digits then type, only Alt+1..5 picks a quick amount.
 */
export function tenderAction(e: KeyLike, editing: boolean): TenderAction | null {
  if (e.key === 'Escape') return { kind: 'cancel' };
  if (e.key === 'Enter' && !e.ctrlKey && !e.altKey) return { kind: 'submit' };
  if (e.ctrlKey || e.metaKey) return null;
  if (/^[1-5]$/.test(e.key) && (!editing || e.altKey)) {
    return { kind: 'quick_cash', index: Number(e.key) - 1 };
  }
  if (e.altKey) return null;
  const byFkey: Record<string, 'cash' | 'card' | 'qris' | 'voucher'> = {
    F1: 'cash',
    F2: 'card',
    F3: 'qris',
    F4: 'voucher',
  };
  if (byFkey[e.key]) return { kind: 'method', method: byFkey[e.key]! };
  return null;
}

/**
 * The sale-complete screen. A printable key (the next customer's first
 * scan) starts the next sale and is kept as its first character.
 */
export function doneAction(e: KeyLike): 'next_sale' | 'retry_print' | 'type_ahead' | null {
  if (e.key === 'Enter' || e.key === 'Escape') return 'next_sale';
  if (e.key === 'F3') return 'retry_print';
  if (e.key.length === 1 && plain(e) && e.key !== ' ') return 'type_ahead';
  return null;
}

/** Keys the web view must not act on itself (reload, caret browsing, …). */
export function isReservedKey(e: KeyLike): boolean {
  return /^F([1-9]|1[0-2])$/.test(e.key) || (!!e.ctrlKey && /^[lLpPrRfFgGjJuU]$/.test(e.key));
}

/**
 * Tells a keyboard-wedge scanner (characters a few ms apart) from a person
 * typing. Feed it every printable key with its time; `isBurst()` says
 * whether what is in the input so far came in one fast burst.
 */
export class WedgeDetector {
  private times: number[] = [];
  constructor(
    private readonly maxGapMs = 30,
    private readonly minChars = 4,
  ) {}

  key(atMs: number): void {
    this.times.push(atMs);
  }

  reset(): void {
    this.times = [];
  }

  get length(): number {
    return this.times.length;
  }

  isBurst(): boolean {
    return looksScanned(this.times, this.maxGapMs, this.minChars);
  }
}

/** Whether keystrokes at `times` (ms) came from a scanner. */
export function looksScanned(times: number[], maxGapMs = 30, minChars = 4): boolean {
  if (times.length < minChars) return false;
  for (let i = 1; i < times.length; i++) {
    if (times[i]! - times[i - 1]! >= maxGapMs) return false;
  }
  return true;
}

/** Whether the scan-input text is worth a name search. */
export function wantsSearch(text: string): boolean {
  const t = text.trim();
  // Codes (digits, `3*CODE`) go to scan; a name has letters.
  return t.length >= 2 && !t.includes('*') && /\p{L}/u.test(t);
}
