// @vitest-environment happy-dom
// The screens driven like the cashier would, against a fake backend.

import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import { render } from 'preact';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { App } from '../App';
import { FakeBackend } from './fake-backend';
import { undrawable } from './glyphs';

const backend = new FakeBackend();
let root: HTMLElement;

const $ = (id: string) => root.querySelector(`[data-testid="${id}"]`) as HTMLElement | null;
const $$ = (id: string) => Array.from(root.querySelectorAll(`[data-testid="${id}"]`)) as HTMLElement[];

async function until<T>(f: () => T | null | undefined | false, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = f();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}; page: ${root.textContent?.slice(0, 400)}`);
}

const tick = () => new Promise((r) => setTimeout(r, 0));

/** Set a field as typing would, and let the screen re-render. */
async function type(el: HTMLElement, value: string) {
  (el as HTMLInputElement).value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  await tick();
}

function key(k: string, opts: KeyboardEventInit = {}, target: EventTarget = document.activeElement ?? document.body) {
  target.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true, ...opts }));
}

const click = (el: HTMLElement) => el.click();

beforeAll(() => {
  // Copies, as the real IPC serialises: the screens never share objects with the backend.
  mockIPC(
    (cmd, args) => {
      const out = backend.handle(cmd, args as Record<string, unknown>);
      return out === undefined ? null : JSON.parse(JSON.stringify(out));
    },
    { shouldMockEvents: true },
  );
  localStorage.setItem('sentra.lang', 'en');
  root = document.createElement('div');
  document.body.appendChild(root);
  observer.observe(document.body, { subtree: true, childList: true, characterData: true });
  render(<App />, root);
});

// Every text the walk ever puts on screen, also on screens it passes
// through within one step, draws only with what the bundled fonts have.
const seen = new Set<string>();
const observer = new MutationObserver((mutations) => {
  for (const m of mutations) {
    for (const ch of m.target.textContent ?? '') seen.add(ch);
  }
});
afterEach(() => {
  for (const ch of document.body.textContent ?? '') seen.add(ch);
  expect(undrawable([...seen].join(''))).toEqual([]);
});

afterAll(() => {
  render(null, root);
  clearMocks();
});

describe('a shift at the till', () => {
  it('first run: local-only trial', async () => {
    const submit = await until(() => $('setup-trial'), 'the setup screen');
    expect($('setup-enroll')).not.toBeNull();
    await type($('trial-name')!, 'Kasir 1');
    await type($('trial-supervisor')!, 'Budi');
    // A supervisor's PIN is 6 to 8 digits.
    await type($('trial-pin')!, '4321');
    await type($('trial-pin2')!, '4321');
    click(submit);
    expect((await until(() => $('trial-error'), 'the short PIN')).textContent).toContain('6');
    await type($('trial-pin')!, '654321');
    await type($('trial-pin2')!, '654322');
    click(submit);
    expect((await until(() => $('trial-error')?.textContent?.includes('differ') ? $('trial-error') : null, 'the PIN mismatch')).textContent).toContain('differ');
    await type($('trial-pin2')!, '654321');
    click($('setup-trial')!);
    await until(() => $('pin-screen'), 'the sign-in screen');
    expect(window.__sentraPerf?.pinScreenAt).toBeTypeOf('number');
    expect(window.__sentraPerf?.processStartedAt).toBeTypeOf('number');
  });

  it('sign-in: a wrong PIN is shown, the right one signs in', async () => {
    const tiles = await until(() => ($$('cashier-tile').length === 2 ? $$('cashier-tile') : null), 'two tiles');
    expect(tiles.map((t) => t.dataset.userId)).toEqual(['local-sup', 'local-ani']);
    key('2');
    await until(() => tiles[1]!.classList.contains('selected'), 'the second tile selected by key 2');
    await type($('pin-input')!, '0000');
    click($('pin-submit')!);
    expect((await until(() => ($('pin-error')!.hidden ? null : $('pin-error')), 'the PIN error')).textContent).toContain('wrong');
    await type($('pin-input')!, '1234');
    key('Enter', {}, $('pin-input')!);
    click($('pin-submit')!);
    await until(() => $('open-shift-float'), 'the open-shift form');
    await type($('open-shift-float')!, '200.000');
    click($('open-shift-submit')!);
    await until(() => $('sale-screen'), 'the sale screen');
    expect(backend.calls.find((c) => c.cmd === 'open_shift')?.args).toEqual({ float: 200000 });
  });

  it('scans, with the multiplier, and records the time to paint', async () => {
    const input = await until(() => $('scan-input'), 'the scan input');
    await type(input, '8991001');
    key('Enter', {}, input);
    await until(() => $$('cart-line').length === 1, 'one line');
    await type(input, '3*INDOMIE');
    key('Enter', {}, input);
    await until(() => $$('cart-line').length === 2, 'two lines');
    const lines = $$('cart-line');
    expect(lines.map((l) => l.dataset.sku)).toEqual(['TEH', 'INDOMIE']);
    expect(lines[1]!.classList.contains('changed')).toBe(true);
    expect($('cart-total')!.textContent).toBe('Rp 15.500');
    await until(() => (window.__sentraPerf?.scans.length ?? 0) >= 2, 'two scan timings');
    await type(input, 'NOPE');
    key('Enter', {}, input);
    expect((await until(() => $('error-banner'), 'the unknown item')).dataset.code).toBe('unknown_item');
  });

  it('name search: arrows and Enter add the chosen item', async () => {
    const input = $('scan-input')!;
    await type(input, 'bera');
    await until(() => $$('search-hit').length === 1, 'a search hit');
    key('Enter', {}, input);
    await until(() => $$('cart-line').length === 3, 'three lines');
    expect($$('cart-line')[2]!.dataset.sku).toBe('BERAS');
    expect(backend.calls.filter((c) => c.cmd === 'scan').at(-1)?.args).toEqual({ code: 'BERAS' });
  });

  it('F2 weighs, + adds one, Delete removes and the selection stays in the cart', async () => {
    const input = $('scan-input')!;
    key('F2', {}, input);
    const q = await until(() => $('dialog-qty-input') as HTMLInputElement | null, 'the quantity dialog');
    await type(q, '0,450');
    click($('dialog-qty-submit')!);
    await until(() => $$('cart-line')[2]?.dataset.qtyMilli === '450', 'the weight');
    expect($$('cart-line')[2]!.textContent).toContain('0,450 kg');
    key('ArrowUp', {}, $('scan-input')!);
    key('ArrowUp', {}, $('scan-input')!);
    await until(() => $$('cart-line')[0]!.classList.contains('selected'), 'line 1 selected');
    key('+', {}, $('scan-input')!);
    await until(() => $$('cart-line')[0]!.dataset.qtyMilli === '2000', 'two of line 1');
    key('ArrowDown', {}, $('scan-input')!);
    key('ArrowDown', {}, $('scan-input')!);
    await until(() => $$('cart-line')[2]!.classList.contains('selected'), 'line 3 selected');
    key('Delete', {}, $('scan-input')!);
    await until(() => $$('cart-line').length === 2, 'a line removed');
    expect($$('cart-line')[1]!.classList.contains('selected')).toBe(true);
  });

  it('a big discount asks a supervisor, retries with the PIN', async () => {
    key('F4', {}, $('scan-input')!);
    const d = await until(() => $('dialog-line_disc-input'), 'the discount dialog');
    await type(d, '50%');
    click($('dialog-line_disc-submit')!);
    const pin = await until(() => $('supervisor-pin-input'), 'the supervisor dialog');
    await type(pin, '1111');
    click($('supervisor-pin-submit')!);
    await until(() => $('supervisor-pin-error'), 'the rejected PIN');
    await type($('supervisor-pin-input')!, '999999');
    click($('supervisor-pin-submit')!);
    await until(() => !$('supervisor-pin-input') && !$('dialog-line_disc-input'), 'the dialogs closed');
    const last = backend.calls.filter((c) => c.cmd === 'set_line_discount');
    expect(last.map((c) => c.args.supervisorPin)).toEqual([null, '1111', '999999']);
    expect(last[2]!.args.discount).toEqual({ kind: 'percent', percent: '50' });
    expect($('cart-total')!.textContent).toBe('Rp 15.250');
  });

  it('split tender: QRIS needs a reference, then cash pays and shows the change', async () => {
    click($('tender-button')!);
    await until(() => $('tender-amount'), 'the tender screen');
    expect(($('tender-amount') as HTMLInputElement).value).toBe('15.250');
    click($('tender-method-qris')!);
    // The customer display is told the method (its QRIS prompt).
    await until(() => backend.customerTender?.method === 'qris', 'the customer display on QRIS');
    await type($('tender-amount')!, '5000');
    click($('tender-add')!);
    expect((await until(() => $('tender-error'), 'the missing reference')).textContent).toContain('reference');
    await type($('tender-reference')!, 'QR-77');
    click($('tender-add')!);
    await until(() => $$('tender-line').length === 1, 'a tender line');
    expect($('tender-remaining')!.textContent).toBe('Rp 0');
    click($('tender-method-cash')!);
    await until(() => ($('tender-amount') as HTMLInputElement).value === '10.250', 'the remainder prefilled');
    await until(() => backend.customerTender?.method === 'cash', 'the customer display on cash');
    expect(backend.customerTender).toEqual({ method: 'cash', tendered: 5000 });
    key('4', {}, document.body);
    await until(() => ($('tender-amount') as HTMLInputElement).value === '20.000', 'quick cash key 4');
    click($('tender-pay')!);
    const change = await until(() => $('change-amount'), 'the result');
    expect(change.textContent).toBe('Rp 9.750');
    expect($('receipt-no')!.textContent).toBe('R-1');
    expect($('receipt-preview')!.textContent).toContain('SENTRA');
    expect($('print-status')!.dataset.state).toBe('pending');
    expect(backend.calls.find((c) => c.cmd === 'pay')?.args).toEqual({
      tenders: [
        { method: 'qris', amount: 5000, reference: 'QR-77' },
        { method: 'cash', amount: 20000, reference: null },
      ],
    });
    backend.jobs[0]!.status = 'printed';
    await emit('print', structuredClone(backend.jobs));
    await until(() => $('print-status')!.dataset.state === 'printed', 'printed');
    // The next customer's first scan starts the next sale; its first digit is kept.
    key('8', {}, document.body);
    const input = await until(() => $('scan-input') as HTMLInputElement | null, 'the next sale');
    expect(input.value).toBe('8');
    expect(document.activeElement).toBe(input);
    // Back on the scan screen: the customer display drops the change.
    await until(() => backend.customerTender === null && backend.calls.at(-1)?.cmd !== 'pay', 'the customer display told');
    expect(backend.calls.filter((c) => c.cmd === 'customer_tender').at(-1)?.args).toEqual({ progress: null });
    expect($$('cart-line')).toHaveLength(0);
    await type(input, '');
  });

  it('the status bar follows sync events', async () => {
    await emit('sync', backend.syncView('uplink_down'));
    const s = await until(() => ($('sync-state')?.dataset.state === 'uplink_down' ? $('sync-state') : null), 'uplink_down');
    expect(s.textContent).toContain('Internet down (relay holding)');
    expect($('sync-pending')!.textContent).toContain('1');
  });

  it('Ctrl+L locks; the PIN unlocks', async () => {
    key('l', { ctrlKey: true }, $('scan-input')!);
    await until(() => $('lock-screen'), 'the lock screen');
    await type($('pin-input')!, '5555');
    click($('pin-submit')!);
    await until(() => !$('pin-error')!.hidden, 'the PIN error');
    await type($('pin-input')!, '1234');
    click($('pin-submit')!);
    await until(() => $('sale-screen'), 'the sale screen again');
  });

  it('F8 voids a receipt with a supervisor PIN', async () => {
    key('F8', {}, $('scan-input')!);
    await type(await until(() => $('void-receipt-input'), 'the receipt dialog'), 'R-1');
    click($('void-submit')!);
    await type(await until(() => $('supervisor-pin-input'), 'the supervisor dialog'), '999999');
    click($('supervisor-pin-submit')!);
    expect((await until(() => $('notice-banner'), 'the notice')).textContent).toContain('R-1');
    expect(backend.sales[0]!.voided).toBe(true);
    expect(backend.calls.filter((c) => c.cmd === 'void_sale').map((c) => c.args.supervisorPin)).toEqual([null, '999999']);
  });

  it('a no-sale opens the drawer with a reason and the shift counts it', async () => {
    key('F9', {}, $('scan-input')!);
    click(await until(() => $('menu-no-sale'), 'the menu'));
    click(await until(() => $('no-sale-change'), 'the reasons'));
    expect((await until(() => $('notice-banner'), 'the notice')).textContent).toContain('1');
    expect(backend.calls.filter((c) => c.cmd === 'open_drawer').map((c) => c.args)).toEqual([{ reason: 'Change for a note' }]);
  });

  it('closing the shift warns about undelivered records, then shows the Z report', async () => {
    key('F9', {}, $('scan-input')!);
    await until(() => $('menu-close-shift'), 'the menu');
    click($('menu-close-shift')!);
    await type(await until(() => $('close-shift-counted'), 'the counted field'), '15000');
    click($('close-shift-submit')!);
    click(await until(() => $('close-shift-confirm'), 'the undelivered warning'));
    const lines = await until(() => $('report-lines'), 'the Z report');
    expect(lines.textContent).toContain('Z REPORT');
    expect($('report-sales-total')!.textContent).toBe('Rp 0');
    expect(backend.calls.filter((c) => c.cmd === 'close_shift').map((c) => c.args)).toEqual([
      { countedCash: 15000, denominations: [], confirmed: false },
      { countedCash: 15000, denominations: [], confirmed: true },
    ]);
    click($('report-close')!);
    await until(() => $('open-shift-float'), 'back to the open-shift form');
  });

  it('counting the drawer by note fills the counted cash and sends the count', async () => {
    await type(await until(() => $('open-shift-float'), 'the open-shift form'), '100000');
    click($('open-shift-submit')!);
    key('F9', {}, await until(() => $('scan-input'), 'the sale screen'));
    click(await until(() => $('menu-close-shift'), 'the menu'));
    await type(await until(() => $('count-50000'), 'the count by note'), '2');
    await type($('count-500')!, '3');
    expect(($('close-shift-counted') as HTMLInputElement).value).toBe('101500');
    click($('close-shift-submit')!);
    click(await until(() => $('close-shift-confirm'), 'the undelivered warning'));
    await until(() => $('report-lines'), 'the Z report');
    expect(backend.calls.filter((c) => c.cmd === 'close_shift').at(-1)!.args).toEqual({
      countedCash: 101500,
      denominations: [
        { value: 50000, count: 2 },
        { value: 500, count: 3 },
      ],
      confirmed: true,
    });
  });
});
