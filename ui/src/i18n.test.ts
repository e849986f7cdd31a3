import { describe, expect, it } from 'vitest';
import { dictionaries, isLang, translator } from './i18n';

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
