import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, toAppError } from '../api';
import type { CartView } from '../bindings/CartView';
import type { ParkedSale } from '../bindings/ParkedSale';
import type { ProductHit } from '../bindings/ProductHit';
import type { SaleDone } from '../bindings/SaleDone';
import * as cs from '../cart-state';
import { useApp } from '../ctx';
import { dateTime, quantity, quantityText, rupiah } from '../format';
import { beep, useHotkeys } from '../hotkeys';
import type { Key } from '../i18n';
import { saleAction, WedgeDetector, wantsSearch, type SaleAction } from '../keys';
import { cartPainted, scanFailed, scanStarted } from '../perf';
import { Field, Modal } from './common';
import { Done } from './Done';
import { Tender } from './Tender';
import { Icon } from './icons';

type Dialog =
  | { kind: 'qty'; index: number; text: string }
  | { kind: 'line_disc'; index: number; text: string }
  | { kind: 'cart_disc'; text: string }
  | { kind: 'park'; text: string }
  | { kind: 'parked' };

type Mode = { kind: 'scan' } | { kind: 'tender' } | { kind: 'done'; sale: SaleDone };

const SEARCH_DELAY_MS = 150;

/** The sale screen: scan input, cart, totals; tender and the result in place. */
export function Sale() {
  const app = useApp();
  const { t, fail, clearError, open, setStatus, refreshStatus, supervised } = app;
  const [cart, setCart] = useState<CartView | null>(null);
  const [ui, setUi] = useState<cs.CartUi>(cs.emptyUi);
  const [mode, setMode] = useState<Mode>({ kind: 'scan' });
  const [dialog, setDialog] = useState<Dialog | null>(null);
  const [text, setText] = useState('');
  const [hits, setHits] = useState<ProductHit[]>([]);
  const [hitSel, setHitSel] = useState(0);
  const [noHits, setNoHits] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const rows = useRef<HTMLTableSectionElement>(null);
  const wedge = useRef(new WedgeDetector());
  const searchTimer = useRef<number | undefined>(undefined);
  const searchSeq = useRef(0);
  const busy = useRef(false);

  const lines = cart?.lines ?? [];
  const cartEmpty = lines.length === 0;
  const selIndex = ui.selected ?? (lines.length ? lines.length - 1 : null);

  // Back on the scan screen (tender cancelled, or the next sale after the
  // change): the customer display drops the tender and the last change.
  useEffect(() => {
    if (mode.kind === 'scan') api.customerTender(null).catch(() => undefined);
  }, [mode.kind]);

  useEffect(() => {
    api.cart().then(
      (c) => {
        setCart(c);
        setUi(cs.afterUpdate(cs.emptyUi, { ...c, changed: c.changed ?? (c.lines.length ? c.lines.length - 1 : null) }));
      },
      fail,
    );
  }, []);

  // After the DOM update: the scan is on screen (perf), the touched line in view.
  useLayoutEffect(() => {
    cartPainted();
    const i = ui.highlight ?? ui.selected;
    if (i !== null) {
      const row = rows.current?.children[i] as HTMLElement | undefined;
      row?.scrollIntoView({ block: 'nearest' });
    }
  }, [cart, ui]);

  // The scan input keeps the focus whenever nothing else is open.
  const idle = mode.kind === 'scan' && dialog === null;
  // Layout effect: focused before the next key event, so a scanner burst that
  // starts on the result screen lands in the input.
  useLayoutEffect(() => {
    const el = input.current;
    if (idle && el && document.activeElement !== el && !document.querySelector('.modal')) {
      el.focus();
      el.setSelectionRange(el.value.length, el.value.length);
    }
  });
  function refocus() {
    setTimeout(() => {
      if (idle && !document.querySelector('.modal') && document.activeElement !== input.current) {
        input.current?.focus();
      }
    }, 0);
  }

  function apply(c: CartView, next?: cs.CartUi) {
    setCart(c);
    setUi(next ?? cs.afterUpdate(ui, c));
  }

  function clearInput() {
    setText('');
    if (input.current) input.current.value = '';
    closeSearch();
    wedge.current.reset();
  }

  function closeSearch() {
    clearTimeout(searchTimer.current);
    searchSeq.current++;
    setHits([]);
    setNoHits(false);
    setHitSel(0);
  }

  async function act<R>(f: () => Promise<R>): Promise<R | null> {
    clearError();
    try {
      return await f();
    } catch (e) {
      fail(e);
      return null;
    }
  }

  async function scan(code: string) {
    if (busy.current) return;
    busy.current = true;
    clearError();
    closeSearch();
    scanStarted();
    try {
      const c = await api.scan(code);
      clearInput();
      apply(c);
    } catch (e) {
      scanFailed();
      const err = fail(e);
      if (['unknown_item', 'not_sold', 'bad_label', 'invalid'].includes(err.code)) beep();
      // Leave the code selected: the next scan replaces it.
      input.current?.select();
      wedge.current.reset();
    } finally {
      busy.current = false;
    }
  }

  function onInput(value: string) {
    setText(value);
    clearTimeout(searchTimer.current);
    if (value === '') {
      closeSearch();
      wedge.current.reset();
      return;
    }
    if (!wantsSearch(value)) {
      if (hits.length || noHits) closeSearch();
      return;
    }
    const seq = ++searchSeq.current;
    searchTimer.current = window.setTimeout(() => {
      // A scanner burst ends in Enter: no point searching it.
      if (wedge.current.isBurst()) return;
      api.search(value.trim()).then(
        (found) => {
          if (seq !== searchSeq.current) return;
          setHits(found);
          setHitSel(0);
          setNoHits(found.length === 0);
        },
        () => undefined,
      );
    }, SEARCH_DELAY_MS);
  }

  const selected = () => (selIndex === null ? null : lines[selIndex] ?? null);

  async function step(delta: 1 | -1) {
    const line = selected();
    if (!line) return;
    const q = cs.stepQuantity(line.quantity_milli, delta);
    if (q === null) return;
    const c = await act(() => api.setQuantity(line.index, q));
    if (c) apply(c);
  }

  async function remove() {
    const line = selected();
    if (!line) return;
    const c = await act(() => api.removeLine(line.index));
    if (c) apply(c, c.changed !== null ? cs.afterUpdate(ui, c) : cs.afterRemoval({ ...ui, selected: line.index }, line.index, c));
  }

  function run(a: SaleAction) {
    const line = selected();
    switch (a) {
      case 'lock':
        void act(api.lock).then((s) => s && setStatus(s));
        break;
      case 'tender':
        if (!cartEmpty) {
          clearError();
          setMode({ kind: 'tender' });
        }
        break;
      case 'submit_scan':
        void scan((input.current?.value ?? text).trim());
        break;
      case 'search_up':
        setHitSel((i) => Math.max(0, i - 1));
        break;
      case 'search_down':
        setHitSel((i) => Math.min(hits.length - 1, i + 1));
        break;
      case 'search_pick': {
        const h = hits[hitSel];
        if (h) void scan(h.sku);
        break;
      }
      case 'search_close':
        closeSearch();
        break;
      case 'clear_input':
        clearInput();
        clearError();
        break;
      case 'select_up':
        setUi((u) => cs.move(u, -1, lines.length));
        break;
      case 'select_down':
        setUi((u) => cs.move(u, 1, lines.length));
        break;
      case 'qty_inc':
        void step(1);
        break;
      case 'qty_dec':
        void step(-1);
        break;
      case 'edit_qty':
        if (line) setDialog({ kind: 'qty', index: line.index, text: quantityText(line.quantity_milli) });
        break;
      case 'remove_line':
        void remove();
        break;
      case 'line_discount':
        if (line) setDialog({ kind: 'line_disc', index: line.index, text: cs.discountText(line.discount) });
        break;
      case 'cart_discount':
        setDialog({ kind: 'cart_disc', text: cs.discountText(cart?.discount ?? null) });
        break;
      case 'park':
        setDialog({ kind: 'park', text: '' });
        break;
      case 'parked':
        setDialog({ kind: 'parked' });
        break;
      case 'receipt_menu':
        open({ kind: 'receipt' });
        break;
      case 'shift_menu':
        open({ kind: 'menu' });
        break;
      case 'sync_screen':
        open({ kind: 'undelivered' });
        break;
      case 'settings':
        open({ kind: 'settings' });
        break;
    }
  }

  useHotkeys(
    (e) => {
      const value = input.current?.value ?? '';
      if (e.key.length === 1 && !e.ctrlKey && !e.altKey) {
        wedge.current.key(performance.now());
        // Focus wandered (a click on the cart): the scanner's digits still go in.
        if (document.activeElement !== input.current && !document.querySelector('.modal')) input.current?.focus();
      }
      const a = saleAction(e, { inputEmpty: value.trim() === '', cartEmpty, searchOpen: hits.length > 0 });
      if (!a) return false;
      e.preventDefault();
      run(a);
      return true;
    },
    mode.kind === 'scan',
  );

  async function submitDialog(d: Dialog) {
    switch (d.kind) {
      case 'qty': {
        if (!cs.isQuantityText(d.text)) return fail({ code: 'invalid', message: t('quantity_invalid') });
        const c = await act(() => api.setQuantity(d.index, d.text.trim()));
        if (c) {
          apply(c);
          setDialog(null);
        }
        return;
      }
      case 'line_disc':
      case 'cart_disc': {
        const p = cs.parseDiscount(d.text);
        if (!p.ok) return fail({ code: 'invalid', message: t('discount_invalid') });
        clearError();
        try {
          const c = await supervised((pin) =>
            d.kind === 'line_disc' ? api.setLineDiscount(d.index, p.value, pin) : api.setCartDiscount(p.value, pin),
          );
          if (c) {
            apply(c, d.kind === 'line_disc' ? undefined : cs.keep(ui, c));
            setDialog(null);
          }
        } catch (e) {
          fail(e);
        }
        return;
      }
      case 'park': {
        const c = await act(() => api.park(d.text.trim()));
        if (c) {
          apply(c, cs.emptyUi);
          setDialog(null);
          void refreshStatus();
        }
        return;
      }
      case 'parked':
        return;
    }
  }

  async function resume(p: ParkedSale) {
    const c = await act(() => api.resume(p.park_id));
    if (c) {
      apply(c, cs.afterUpdate(cs.emptyUi, { ...c, changed: c.changed ?? (c.lines.length ? c.lines.length - 1 : null) }));
      setDialog(null);
      void refreshStatus();
    }
  }

  async function nextSale(typed?: string) {
    setMode({ kind: 'scan' });
    clearInput();
    if (typed) {
      setText(typed);
      wedge.current.key(performance.now());
    }
    const c = await act(api.cart);
    if (c) apply(c, cs.emptyUi);
  }

  // The change screen covers the sale screen rather than replacing it:
  // tearing the whole screen down and building it again for every sale
  // cost WebKit's web process ~40 KiB a sale it never gave back
  // (docs/benchmarks.md, "The cashier app under a scanner").
  const done = mode.kind === 'done' ? mode.sale : null;

  const items = lines.reduce((n, l) => n + (l.quantity_milli % 1000 === 0 ? l.quantity_milli / 1000 : 1), 0);

  return (
    <main class="screen sale" data-testid="sale-screen">
      {done && <Done sale={done} onNext={nextSale} />}
      <section class="cart-col" hidden={!!done}>
        <div class="scan-wrap">
          <input
            ref={input}
            class="scan-input"
            data-testid="scan-input"
            value={text}
            placeholder={t('scan_placeholder')}
            autoComplete="off"
            spellcheck={false}
            disabled={mode.kind !== 'scan'}
            onInput={(e) => onInput((e.currentTarget as HTMLInputElement).value)}
            onBlur={refocus}
          />
          {(hits.length > 0 || noHits) && (
            <ul class="search-results" data-testid="search-results" role="listbox">
              {noHits && <li class="hint">{t('no_results')}</li>}
              {hits.map((h, i) => (
                <li
                  key={h.sku}
                  role="option"
                  aria-selected={i === hitSel}
                  class={i === hitSel ? 'selected' : ''}
                  data-testid="search-hit"
                  data-sku={h.sku}
                  onMouseDown={(e) => {
                    e.preventDefault();
                    void scan(h.sku);
                  }}
                >
                  <span class="hit-name">{h.name}</span>
                  <span class="hit-code">{h.barcode ?? h.sku}</span>
                  <OnHand milli={h.on_hand_milli} kind="hit" />
                  <b>{rupiah(h.unit_price)}</b>
                </li>
              ))}
            </ul>
          )}
        </div>
        <div class="cart-scroll">
          <table class="cart" data-testid="cart">
            <thead>
              <tr>
                <th class="num">{t('col_no')}</th>
                <th>{t('col_item')}</th>
                <th class="r">{t('col_qty')}</th>
                <th class="r">{t('col_price')}</th>
                <th class="r">{t('col_disc')}</th>
                <th class="r">{t('col_total')}</th>
              </tr>
            </thead>
            <tbody ref={rows}>
              {lines.map((l, i) => (
                <tr
                  key={`${i}-${l.sku}`}
                  class={`${i === selIndex ? 'selected' : ''} ${i === ui.highlight ? 'changed' : ''}`}
                  data-testid="cart-line"
                  data-sku={l.sku}
                  data-index={l.index}
                  data-qty-milli={l.quantity_milli}
                  onClick={() => setUi({ selected: i, highlight: ui.highlight })}
                >
                  <td class="num">{i + 1}</td>
                  <td class="name">
                    {l.name}
                    <OnHand milli={l.on_hand_milli} kind="line" />
                  </td>
                  <td class="r qty">{quantity(l.quantity_milli)}</td>
                  <td class="r">{rupiah(l.unit_price)}</td>
                  <td class="r disc">
                    {l.discount_amount > 0 ? `-${rupiah(l.discount_amount).replace(/^-/, '')}` : ''}
                    {l.discount ? <small> ({cs.discountLabel(l.discount)})</small> : null}
                  </td>
                  <td class="r total">{rupiah(l.total)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {cartEmpty && <p class="cart-empty">{t('cart_empty')}</p>}
        </div>
      </section>
      <aside class="side-col" hidden={!!done}>
        {mode.kind === 'tender' && cart ? (
          <Tender
            cart={cart}
            onCancel={() => setMode({ kind: 'scan' })}
            onPaid={(sale) => {
              setMode({ kind: 'done', sale });
              void refreshStatus();
            }}
          />
        ) : (
          <>
            <div class="totals">
              <p class="kv">
                <span>{t('subtotal')}</span>
                <b data-testid="cart-gross">{rupiah(cart?.gross ?? 0)}</b>
              </p>
              {(cart?.discounts ?? 0) > 0 && (
                <p class="kv disc">
                  <span>
                    {t('discounts')}
                    {cart?.discount ? ` (${cs.discountLabel(cart.discount)})` : ''}
                  </span>
                  <b data-testid="cart-discounts">-{rupiah(cart!.discounts)}</b>
                </p>
              )}
              <p class="kv">
                <span>{cart?.tax_mode === 'inclusive' ? t('tax_incl') : t('tax')}</span>
                <b>{rupiah(cart?.tax ?? 0)}</b>
              </p>
              <p class="items-count">
                {lines.length} × · {items} {t('items')}
              </p>
              <div class="grand">
                <span>{t('total')}</span>
                <b data-testid="cart-total" data-amount={cart?.total ?? 0} class={rupiah(cart?.total ?? 0).length > 12 ? 'long' : ''}>
                  {rupiah(cart?.total ?? 0)}
                </b>
              </div>
            </div>
            <button type="button" class="btn primary huge" disabled={cartEmpty} onClick={() => run('tender')} data-testid="tender-button">
              F12 {t('pay')}
            </button>
            <FKeys run={run} cartEmpty={cartEmpty} />
          </>
        )}
      </aside>
      {dialog && dialog.kind !== 'parked' && (
        <TextDialog
          dialog={dialog}
          onChange={(text) => setDialog({ ...dialog, text })}
          onSubmit={() => submitDialog(dialog)}
          onClose={() => setDialog(null)}
        />
      )}
      {dialog?.kind === 'parked' && <ParkedDialog onResume={resume} onClose={() => setDialog(null)} />}
    </main>
  );
}

function FKeys({ run, cartEmpty }: { run: (a: SaleAction) => void; cartEmpty: boolean }) {
  const { t } = useApp();
  const keys: [string, Key, SaleAction, boolean][] = [
    ['F2', 'key_qty', 'edit_qty', cartEmpty],
    ['Del', 'key_remove', 'remove_line', cartEmpty],
    ['F4', 'key_line_disc', 'line_discount', cartEmpty],
    ['F5', 'key_cart_disc', 'cart_discount', cartEmpty],
    ['F6', 'key_park', 'park', cartEmpty],
    ['F7', 'key_parked', 'parked', false],
    ['F8', 'key_receipt', 'receipt_menu', false],
    ['F9', 'key_menu', 'shift_menu', false],
    ['F10', 'key_sync', 'sync_screen', false],
    ['F11', 'key_settings', 'settings', false],
    ['Ctrl+L', 'key_lock', 'lock', false],
  ];
  return (
    <div class="fkeys">
      {keys.map(([k, label, action, disabled]) => (
        <button type="button" key={k} class="btn fkey" disabled={disabled} onClick={() => run(action)} data-testid={`fkey-${action}`}>
          <kbd>{k}</kbd>
          <span>{t(label)}</span>
        </button>
      ))}
    </div>
  );
}

function TextDialog({
  dialog,
  onChange,
  onSubmit,
  onClose,
}: {
  dialog: Exclude<Dialog, { kind: 'parked' }>;
  onChange: (s: string) => void;
  onSubmit: () => void;
  onClose: () => void;
}) {
  const { t } = useApp();
  const titles: Record<typeof dialog.kind, Key> = {
    qty: 'quantity_title',
    line_disc: 'line_discount_title',
    cart_disc: 'cart_discount_title',
    park: 'park_title',
  };
  const hints: Record<typeof dialog.kind, Key> = {
    qty: 'quantity_hint',
    line_disc: 'discount_hint',
    cart_disc: 'discount_hint',
    park: 'park_label',
  };
  return (
    <Modal title={t(titles[dialog.kind])} onClose={onClose} testid={`dialog-${dialog.kind}`}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          onSubmit();
        }}
      >
        <Field
          label={t(hints[dialog.kind])}
          value={dialog.text}
          onValue={onChange}
          testid={`dialog-${dialog.kind}-input`}
          inputMode={dialog.kind === 'park' ? 'text' : 'decimal'}
          autoComplete="off"
          autoFocusSelect
        />
        <div class="row">
          <button type="button" class="btn big" onClick={onClose}>
            {t('cancel')}
          </button>
          <button type="submit" class="btn primary big" data-testid={`dialog-${dialog.kind}-submit`}>
            <Icon name="enter" /> {t('ok')}
          </button>
        </div>
      </form>
    </Modal>
  );
}

function ParkedDialog({ onResume, onClose }: { onResume: (p: ParkedSale) => void; onClose: () => void }) {
  const { t } = useApp();
  const [list, setList] = useState<ParkedSale[] | null>(null);
  const [sel, setSel] = useState(0);
  const [error, setError] = useState('');
  useEffect(() => {
    api.parked().then(setList, (e) => setError(toAppError(e).message));
  }, []);
  useHotkeys((e) => {
    if (!list?.length) return false;
    if (e.key === 'ArrowDown') setSel((i) => Math.min(list.length - 1, i + 1));
    else if (e.key === 'ArrowUp') setSel((i) => Math.max(0, i - 1));
    else if (e.key === 'Enter') onResume(list[sel]!);
    else return false;
    e.preventDefault();
    return true;
  });
  return (
    <Modal title={t('parked_title')} onClose={onClose} testid="parked-dialog">
      {error && <p class="form-error">{error}</p>}
      {list && list.length === 0 && <p class="hint">{t('parked_none')}</p>}
      <ul class="pick-list">
        {list?.map((p, i) => (
          <li key={p.park_id} class={i === sel ? 'selected' : ''}>
            <button type="button" class="btn wide" data-testid="parked-sale" data-park-id={p.park_id} onClick={() => onResume(p)}>
              <b>{p.label || '—'}</b>
              <span>
                {p.items} {t('items')} · {p.cashier ?? ''} · {dateTime(p.parked_at_ms)}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </Modal>
  );
}

/** Stock on hand as the till knows it ("Stok 12"); nothing when it has no
 * figure. Red at or below zero. */
function OnHand({ milli, kind }: { milli: number | null; kind: 'hit' | 'line' }) {
  const { t } = useApp();
  if (milli === null) return null;
  const Tag = kind === 'hit' ? 'span' : 'small';
  return (
    <Tag class={`${kind}-stock${milli <= 0 ? ' out' : ''}`} data-testid={`${kind}-stock`} data-milli={milli}>
      {t('stock_on_hand')} {quantity(milli)}
    </Tag>
  );
}
