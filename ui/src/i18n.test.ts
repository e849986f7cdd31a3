import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, dictionaries, errorText, isLang, translator } from './i18n';

describe('i18n', () => {
  it('has the same keys in both languages', () => {
    expect(Object.keys(dictionaries.en).sort()).toEqual(Object.keys(dictionaries.id).sort());
  });
  it('has no empty strings', () => {
    for (const dict of Object.values(dictionaries)) {
      for (const v of Object.values(dict)) expect(v.trim()).not.toBe('');
    }
  });
  it('keeps the same placeholders in both languages', () => {
    const holes = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
    for (const k of Object.keys(dictionaries.id) as (keyof typeof dictionaries.id)[]) {
      expect(holes(dictionaries.en[k]), k).toEqual(holes(dictionaries.id[k]));
    }
  });
  it('translates and fills placeholders', () => {
    expect(translator('id')('pay')).toBe('Bayar');
    expect(translator('en')('pay')).toBe('Pay');
    expect(translator('en')('voided_ok', { no: 'R-1' })).toBe('Receipt R-1 voided');
    expect(translator('en')('sync_relay_unreachable')).toBe('Relay/LAN unreachable');
    expect(isLang('id')).toBe(true);
    expect(isLang('fr')).toBe(false);
  });
});

describe('errors in the cashier’s language', () => {
  // The core's codes (`TerminalError::code` and the `code` of each error
  // type it wraps, one per job of crates/terminal): each is worded here, or
  // is one only support meets (a damaged or foreign database, a key, a
  // catalog file, the journal) and is shown as "something went wrong (code)".
  const SUPPORT_ONLY = [
    'already_set_up',
    'database_missing',
    'key_unavailable',
    'wrong_key',
    'database_damaged',
    'bad_manifest',
    'newer_data',
    'upgrade_copy_failed',
    'bad_catalog',
    'journal_damaged',
    'database_error',
    'io_error',
  ];
  const ERROR_FILES = [
    'error.rs', // TerminalError
    'store.rs', // StorageError
    'pos/session.rs', // SessionError
    'terminal.rs', // SaleError
    'catalog.rs', // CatalogError
    'sync/receipt.rs', // ForeignSaleError
  ];
  // The body of each file's `pub fn code(&self)`, up to its closing brace.
  const codeBodies = ERROR_FILES.map((file) => {
    const source = readFileSync(resolve(__dirname, '../../crates/terminal/src', file), 'utf8');
    const start = source.indexOf('pub fn code(&self)');
    return { file, body: start < 0 ? '' : source.slice(start, source.indexOf('\n    }\n', start)) };
  });
  const codesOf = (body: string) => [...body.matchAll(/=>\s*(?:\{\s*)?"([a-z_]+)"/g)].map((m) => m[1]!);
  const codes = [...new Set(codeBodies.flatMap(({ body }) => codesOf(body)))];

  it('reads the core’s codes', () => {
    for (const { file, body } of codeBodies) expect(codesOf(body).length, file).toBeGreaterThan(0);
    expect(codes).toContain('unknown_item');
    expect(codes.length).toBeGreaterThan(25);
  });
  it('words every code a cashier meets, in both languages', () => {
    for (const code of codes) {
      if (SUPPORT_ONLY.includes(code)) continue;
      expect(ERROR_CODES as readonly string[], code).toContain(code);
    }
  });
  it('never shows the core’s English in Indonesian', () => {
    const t = translator('id');
    const english = 'receipt R-9 not found on this terminal';
    expect(errorText(t, 'id', 'unknown_receipt', { receipt: 'R-9' }, english)).toBe('Struk R-9 tidak ditemukan');
    expect(errorText(t, 'id', 'wrong_key', {}, 'wrong database key for …')).toBe('Terjadi kesalahan (wrong_key); hubungi supervisor');
    expect(errorText(t, 'id', 'invalid', { what: 'quantity' }, 'invalid quantity: "x" is not a number')).toBe('Isian tidak valid (jumlah barang)');
    expect(errorText(t, 'id', 'invalid', { what: 'stored tax rate' }, 'invalid stored tax rate: …')).toBe('Isian tidak valid');
    expect(errorText(translator('en'), 'en', 'wrong_key', {}, 'wrong database key for …')).toBe('wrong database key for …');
  });
});
