// Display formatting for the till: Rupiah, quantities, times. Integer
// rupiah only (the core never sends sen).

const idr = new Intl.NumberFormat('id-ID', { maximumFractionDigits: 0 });

/** `Rp 12.500`, `-Rp 5.000`. */
export function rupiah(amount: number): string {
  const n = Math.round(amount);
  const body = idr.format(Math.abs(n));
  return n < 0 ? `-Rp ${body}` : `Rp ${body}`;
}

/** The number alone with thousands dots: `12.500`. */
export function thousands(amount: number): string {
  return idr.format(Math.round(amount));
}

/**
 * What the cashier typed as an amount of money (`50.000`, `Rp 50.000`,
 * `50000`) as integer rupiah; `null` when it holds no digits or has a
 * decimal part other than zeros.
 */
export function parseRupiah(text: string): number | null {
  let t = text.trim().replace(/^rp\.?\s*/i, '').replace(/\s+/g, '');
  // A trailing ",00" (decimal comma) is allowed and ignored.
  const dec = /,(\d{1,2})$/.exec(t);
  if (dec) {
    if (!/^0+$/.test(dec[1]!)) return null;
    t = t.slice(0, dec.index);
  }
  t = t.replace(/\./g, '');
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * A quantity in thousandths: whole numbers plainly (`2`), fractions with
 * three decimals and the unit (`0,450 kg`).
 */
export function quantity(milli: number, unit = 'kg'): string {
  if (milli % 1000 === 0) return String(milli / 1000);
  return `${quantityText(milli)} ${unit}`;
}

/** A quantity as the cashier would type it (`3`, `0,450`), for editing. */
export function quantityText(milli: number): string {
  const sign = milli < 0 ? '-' : '';
  const m = Math.abs(Math.round(milli));
  const whole = Math.floor(m / 1000);
  const frac = m % 1000;
  if (frac === 0) return `${sign}${whole}`;
  return `${sign}${whole},${String(frac).padStart(3, '0')}`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `HH:MM` in local time. */
export function time(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** `DD/MM HH:MM` in local time. */
export function dateTime(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getDate())}/${pad2(d.getMonth() + 1)} ${time(ms)}`;
}

/** The Rupiah notes and coins counted at shift close, largest first (the
 *  same list as `RUPIAH_DENOMINATIONS` in `crates/domain/src/tender.rs`). */
export const DENOMINATIONS = [100_000, 50_000, 20_000, 10_000, 5_000, 2_000, 1_000, 500, 200, 100] as const;

/** The cash a count by denomination adds up to; `null` when nothing is counted. */
export function countTotal(counts: Record<number, string>): number | null {
  let total = 0;
  let any = false;
  for (const d of DENOMINATIONS) {
    const text = (counts[d] ?? '').trim();
    if (text === '') continue;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) return null;
    any = true;
    total += d * n;
  }
  return any ? total : null;
}

