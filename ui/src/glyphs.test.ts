import { describe, expect, it } from 'vitest';
import { dictionaries } from './i18n';
import { coveredRangeCount, undrawable } from './test/glyphs';

describe('the bundled fonts', () => {
  it('cover Latin and Latin Extended, read from fonts.css', () => {
    expect(coveredRangeCount).toBeGreaterThan(20);
    expect(undrawable('Rp 20.500 · Kembalian … Pembayaran — ×')).toEqual([]);
    expect(undrawable('Đakovo, São Paulo, Łódź, Müller')).toEqual([]);
  });
  it('do not cover emoji or symbols, which the screens draw as SVG icons', () => {
    expect(undrawable('👤 🔒 ⏎ ☰ ↻')).toHaveLength(5);
  });
  it('draw every word of both languages', () => {
    for (const [lang, dict] of Object.entries(dictionaries)) {
      for (const [key, text] of Object.entries(dict)) expect(undrawable(text), `${lang}.${key}`).toEqual([]);
    }
  });
});
