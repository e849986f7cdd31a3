import { describe, expect, it } from 'vitest';
import { dateTime, parseRupiah, quantity, quantityText, rupiah, thousands, time } from './format';

describe('rupiah', () => {
  it('groups thousands with dots, id-ID style', () => {
    expect(rupiah(1234567)).toBe('Rp 1.234.567');
    expect(rupiah(12500)).toBe('Rp 12.500');
    expect(rupiah(999)).toBe('Rp 999');
    expect(rupiah(0)).toBe('Rp 0');
    expect(thousands(50000)).toBe('50.000');
  });
  it('puts the minus before Rp', () => {
    expect(rupiah(-5000)).toBe('-Rp 5.000');
    expect(rupiah(-1)).toBe('-Rp 1');
  });
  it('parses typed amounts', () => {
    expect(parseRupiah('50000')).toBe(50000);
    expect(parseRupiah('50.000')).toBe(50000);
    expect(parseRupiah('Rp 12.500')).toBe(12500);
    expect(parseRupiah('12.500,00')).toBe(12500);
    expect(parseRupiah('12.500,50')).toBeNull();
    expect(parseRupiah('')).toBeNull();
    expect(parseRupiah('abc')).toBeNull();
    expect(parseRupiah('-5')).toBeNull();
  });
});

describe('quantity', () => {
  it('shows whole numbers plainly and weights with three decimals', () => {
    expect(quantity(2000)).toBe('2');
    expect(quantity(450)).toBe('0,450 kg');
    expect(quantity(1500)).toBe('1,500 kg');
    expect(quantityText(450)).toBe('0,450');
    expect(quantityText(12000)).toBe('12');
    expect(quantityText(1005)).toBe('1,005');
  });
});

describe('time', () => {
  it('is HH:MM local', () => {
    const d = new Date(2024, 0, 5, 7, 3);
    expect(time(d.getTime())).toBe('07:03');
    expect(dateTime(d.getTime())).toBe('05/01 07:03');
  });
});
