// @vitest-environment happy-dom
// The customer display's four faces, drawn from views as the core sends
// them, in both languages.

import { render } from 'preact';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CustomerView } from '../bindings/CustomerView';
import { CustomerScreen } from '../components/CustomerDisplay';
import { dictionaries } from '../i18n';
import { undrawable } from './glyphs';

let root: HTMLElement;

beforeEach(() => {
  root = document.createElement('div');
  document.body.appendChild(root);
});

afterEach(() => {
  render(null, root);
  root.remove();
});

const $ = (id: string) => root.querySelector(`[data-testid="${id}"]`) as HTMLElement | null;

const base: CustomerView = {
  stage: 'idle',
  store_name: 'Toko Makmur',
  language: 'id',
  lines: [],
  discounts: 0,
  total: 0,
  method: null,
  paid: 0,
  remaining: 0,
  change: 0,
  receipt_no: null,
};

const lines: CustomerView['lines'] = [
  { name: 'Indomie Goreng 85g', quantity_milli: 2000, unit_price: 3500, total: 7000 },
  { name: 'Beras Pandan Wangi (per kg)', quantity_milli: 450, unit_price: 14500, total: 6525 },
];

const VIEWS: CustomerView[] = [
  base,
  { ...base, stage: 'cart', lines, total: 13525, remaining: 13525, discounts: 500 },
  { ...base, stage: 'tender', lines, total: 13525, method: 'qris', remaining: 13525 },
  { ...base, stage: 'tender', lines, total: 13525, method: 'cash', paid: 5000, remaining: 8525 },
  { ...base, stage: 'paid', lines, total: 13525, paid: 20000, change: 6475, receipt_no: 'T01-000001' },
];

/** Text on screen that only the English table has. */
function englishOnly(text: string): string[] {
  const id = new Set(Object.values(dictionaries.id));
  return Object.values(dictionaries.en).filter((w) => !id.has(w) && !w.includes('{') && text.includes(w));
}

describe('the customer display', () => {
  it('welcomes with the store name when idle', () => {
    render(<CustomerScreen view={base} />, root);
    expect($('customer-display')?.dataset.stage).toBe('idle');
    expect($('customer-store')?.textContent).toBe('Toko Makmur');
    expect(root.textContent).toContain('Selamat datang');
  });

  it('shows the lines and the total while ringing', () => {
    render(<CustomerScreen view={VIEWS[1]!} />, root);
    expect(root.querySelectorAll('[data-testid="customer-line"]')).toHaveLength(2);
    expect($('customer-total')?.dataset.amount).toBe('13525');
    expect($('customer-total')?.textContent).toBe('Rp 13.525');
    expect($('customer-savings')?.dataset.amount).toBe('500');
    expect(root.textContent).toContain('0,450 kg × Rp 14.500');
  });

  it('prompts for QRIS with the amount to pay', () => {
    render(<CustomerScreen view={{ ...VIEWS[2]!, language: 'en' }} />, root);
    const prompt = $('customer-qris-prompt')?.textContent ?? '';
    expect(prompt).toContain('QRIS');
    expect(prompt).toContain('Rp 13.525');
    expect(prompt).toContain('reference');
  });

  it('shows what is paid so far and what is left on a split tender', () => {
    render(<CustomerScreen view={VIEWS[3]!} />, root);
    expect($('customer-paid')?.dataset.amount).toBe('5000');
    expect($('customer-remaining')?.dataset.amount).toBe('8525');
    expect($('customer-method')?.dataset.method).toBe('cash');
  });

  it('shows the amount paid and the change once paid', () => {
    render(<CustomerScreen view={VIEWS[4]!} />, root);
    expect($('customer-display')?.dataset.stage).toBe('paid');
    expect($('customer-paid')?.dataset.amount).toBe('20000');
    expect($('customer-change')?.dataset.amount).toBe('6475');
    expect($('customer-change')?.textContent).toBe('Rp 6.475');
    expect($('customer-thanks')).not.toBeNull();
  });

  it('speaks Indonesian with no English word, and draws with the bundled fonts', () => {
    for (const view of VIEWS) {
      render(<CustomerScreen view={view} />, root);
      const text = root.textContent ?? '';
      expect(englishOnly(text), view.stage).toEqual([]);
      expect(undrawable(text)).toEqual([]);
    }
  });
});
