// The memory walk (tests/office/ui-memory.mjs): the app's real screens on
// the fake backend in a real browser, with a driver that rings sales the
// way the cashier does — scan, pay, next sale — so the test can measure
// what the page keeps per sale after garbage collection.

import { mockIPC } from '@tauri-apps/api/mocks';
import { render } from 'preact';
import { App } from '../App';
import '../fonts.css';
import '../style.css';
import { FakeBackend } from './fake-backend';

const backend = new FakeBackend();
mockIPC(
  (cmd, args) => {
    const out = backend.handle(cmd, args as Record<string, unknown>);
    return out === undefined ? null : JSON.parse(JSON.stringify(out));
  },
  { shouldMockEvents: true },
);
localStorage.setItem('sentra.lang', 'id');
const root = document.getElementById('app')!;
render(<App />, root);

const $ = (id: string) => root.querySelector(`[data-testid="${id}"]`) as HTMLElement | null;
const count = (id: string) => root.querySelectorAll(`[data-testid="${id}"]`).length;

async function until<T>(f: () => T | null | undefined | false, what: string): Promise<T> {
  for (let i = 0; i < 2000; i++) {
    const v = f();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function type(el: HTMLElement, value: string) {
  (el as HTMLInputElement).value = value;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  await new Promise((r) => setTimeout(r, 0));
}

function enter(target: HTMLElement) {
  target.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
}

/** Trial till, sign in, open the shift: the sale screen. */
async function setUp(): Promise<void> {
  await until(() => $('setup-trial'), 'the setup screen');
  await type($('trial-name')!, 'Kasir 1');
  await type($('trial-supervisor')!, 'Budi');
  await type($('trial-pin')!, '654321');
  await type($('trial-pin2')!, '654321');
  $('setup-trial')!.click();
  await until(() => count('cashier-tile') === 2, 'the cashiers');
  (root.querySelectorAll('[data-testid="cashier-tile"]')[1] as HTMLElement).click();
  await type($('pin-input')!, '1234');
  $('pin-submit')!.click();
  await until(() => $('open-shift-float'), 'the open-shift form');
  await type($('open-shift-float')!, '200.000');
  $('open-shift-submit')!.click();
  await until(() => $('sale-screen'), 'the sale screen');
}

// `?mode=scans`: scan three and delete them; `?mode=tender`: also open the
// tender and cancel it; otherwise a whole sale. Which screens memory goes with.
const mode = new URLSearchParams(location.search).get('mode') ?? 'sale';

function keydown(target: HTMLElement, k: string) {
  target.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true }));
}

async function clearCart(input: HTMLElement): Promise<void> {
  for (let i = count('cart-line'); i > 0; i--) {
    keydown(input, 'Delete');
    await until(() => count('cart-line') === i - 1, 'a line deleted');
  }
}

/** One sale of three scans, paid in cash, then the next sale. */
async function sale(): Promise<void> {
  const input = await until(() => $('scan-input'), 'the scan input');
  const codes = ['8991001', '8991002', '8991003'];
  for (let i = 0; i < codes.length; i++) {
    await type(input, codes[i]!);
    enter(input);
    await until(() => count('cart-line') === i + 1, `line ${i + 1}`);
  }
  if (mode === 'scans') return clearCart(input);
  $('tender-button')!.click();
  await until(() => $('tender-pay'), 'the tender screen');
  if (mode === 'tender') {
    keydown(document.activeElement as HTMLElement, 'Escape');
    await until(() => !$('tender-pay') && $('scan-input'), 'the tender closed');
    return clearCart($('scan-input')!);
  }
  $('tender-pay')!.click();
  await until(() => $('next-sale'), 'the receipt screen');
  $('next-sale')!.click();
  await until(() => $('sale-screen') && count('cart-line') === 0 && $('scan-input'), 'the next sale');
  // The fake keeps a log of calls, sales and print jobs; the real backend
  // keeps them in its database. Only the page is measured.
  if (plant) planted.push(JSON.parse(JSON.stringify({ cart: backend.cart(), calls: backend.calls })));
  backend.calls.length = 0;
  backend.sales.splice(0, backend.sales.length - 1);
  backend.jobs.length = 0;
}

// `?plant=1`: keep one copy of each sale's cart, ~1 KiB, as a leak would —
// the walk must then fail (its test of itself).
const planted: unknown[] = [];
const plant = new URLSearchParams(location.search).get('plant') === '1';

declare global {
  interface Window {
    __memoryWalk?: { setUp: () => Promise<void>; sales: (n: number) => Promise<number> };
  }
}

window.__memoryWalk = {
  setUp,
  async sales(n: number) {
    for (let i = 0; i < n; i++) await sale();
    return n;
  },
};

// `?auto=N`: ring N sales on its own, posting the count to /progress every
// 100 (for a browser driven by nothing but its own page, e.g. WebKitGTK's
// MiniBrowser, whose web process is then measured from outside).
const auto = Number(new URLSearchParams(location.search).get('auto') ?? 0);
if (auto > 0) {
  void (async () => {
    await setUp();
    for (let done = 0; done < auto; done += 100) {
      await fetch(`/progress?n=${done}`, { method: 'POST' }).catch(() => undefined);
      for (let i = 0; i < 100; i++) await sale();
    }
    await fetch(`/progress?n=${auto}&done=1`, { method: 'POST' }).catch(() => undefined);
  })();
}
