import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import type { CartView } from '../bindings/CartView';
import type { SaleDone } from '../bindings/SaleDone';
import { useApp } from '../ctx';
import { parseRupiah, rupiah, thousands } from '../format';
import { useHotkeys } from '../hotkeys';
import { methodLabel, type Key } from '../i18n';
import { tenderAction } from '../keys';
import * as tender from '../tender';
import type { Method } from '../tender';
import { Icon } from './icons';

const REF_LABEL: Record<Method, Key> = {
  cash: 'method_cash',
  card: 'approval_code',
  qris: 'qris_reference',
  voucher: 'voucher_code',
};

/** Payment: one or several tenders until the total is covered, then `pay`. */
export function Tender({ cart, onCancel, onPaid }: { cart: CartView; onCancel: () => void; onPaid: (s: SaleDone) => void }) {
  const { t, fail, clearError } = useApp();
  const [state, setState] = useState(() => tender.start(cart.total));
  const [method, setMethod] = useState<Method>('cash');
  const [amountText, setAmountText] = useState(() => thousands(cart.total));
  const [reference, setReference] = useState('');
  const [error, setError] = useState<Key | null>(null);
  const [busy, setBusy] = useState(false);
  const refInput = useRef<HTMLInputElement>(null);
  const amountInput = useRef<HTMLInputElement>(null);

  const amount = parseRupiah(amountText);
  const rest = tender.remaining(state);
  const quick = state.tenders.length === 0 && cart.quick_cash.length > 0 ? cart.quick_cash : tender.quickCash(rest);
  const pv = tender.preview(state, method, amount);

  useEffect(() => {
    if (tender.needsReference(method) || method === 'card') refInput.current?.focus();
  }, [method]);

  // The customer display follows the method (QRIS shows its prompt) and
  // what is tendered so far; the core keeps it (customer_tender).
  useEffect(() => {
    api.customerTender({ method, tendered: tender.paid(state) }).catch(() => undefined);
  }, [method, state]);

  function pick(m: Method) {
    setMethod(m);
    setError(null);
    setReference('');
    setAmountText(thousands(rest));
  }

  async function pay(tenders: typeof state.tenders) {
    if (busy) return;
    clearError();
    setBusy(true);
    try {
      onPaid(await api.pay(tenders));
    } catch (e) {
      fail(e);
    } finally {
      setBusy(false);
    }
  }

  /** Add what is entered; returns the new state or null when refused. */
  function addCurrent(): tender.TenderState | null {
    const next = tender.add(state, method, amount ?? NaN, reference);
    if (typeof next === 'string') {
      setError(next);
      return null;
    }
    setError(null);
    setState(next);
    setReference('');
    setAmountText(thousands(tender.remaining(next)));
    return next;
  }

  /** Enter / Pay: pay when covered, else add the entry and pay if that covers it. */
  function submit() {
    if (tender.isComplete(state)) return void pay(state.tenders);
    const next = addCurrent();
    if (next && tender.isComplete(next)) void pay(next.tenders);
  }

  function payButton() {
    if (tender.isComplete(state)) return void pay(state.tenders);
    if (!pv.completes) return setError('not_complete');
    submit();
  }

  useHotkeys((e) => {
    const target = e.target as HTMLElement | null;
    const editing = !!target && target.tagName === 'INPUT';
    const a = tenderAction(e, editing);
    if (!a) return false;
    e.preventDefault();
    switch (a.kind) {
      case 'cancel':
        if (!busy) onCancel();
        break;
      case 'submit':
        submit();
        break;
      case 'method':
        pick(a.method);
        break;
      case 'quick_cash': {
        const q = tender.quickAmount(quick, a.index + 1);
        if (q !== null) {
          setMethod('cash');
          setAmountText(thousands(q));
          setError(null);
        }
        break;
      }
    }
    return true;
  });

  return (
    <section class="tender" data-testid="tender-screen">
      <h2>{t('tender_title')}</h2>
      <div class="tender-total">
        <span>{t('total')}</span>
        <b data-testid="tender-total">{rupiah(cart.total)}</b>
      </div>
      <div class="methods" role="radiogroup">
        {tender.METHODS.map((m, i) => (
          <button
            type="button"
            key={m}
            role="radio"
            aria-checked={method === m}
            class={`btn method${method === m ? ' selected' : ''}`}
            data-testid={`tender-method-${m}`}
            onClick={() => pick(m)}
          >
            <kbd>F{i + 1}</kbd> {methodLabel(t, m)}
          </button>
        ))}
      </div>
      <label class="field">
        <span>{t('amount')}</span>
        <input
          ref={amountInput}
          class="amount-input"
          inputMode="numeric"
          value={amountText}
          data-testid="tender-amount"
          onFocus={(e) => (e.currentTarget as HTMLInputElement).select()}
          onInput={(e) => {
            setAmountText((e.currentTarget as HTMLInputElement).value);
            setError(null);
          }}
        />
      </label>
      {method === 'cash' ? (
        <div class="quick">
          {quick.map((q, i) => (
            <button type="button" key={q} class="btn quick-btn" data-testid="quick-cash" onClick={() => { setAmountText(thousands(q)); setError(null); }}>
              <kbd>{i + 1}</kbd> {rupiah(q)}
            </button>
          ))}
        </div>
      ) : (
        <label class="field">
          <span>{t(REF_LABEL[method])}</span>
          <input
            ref={refInput}
            value={reference}
            data-testid="tender-reference"
            autoComplete="off"
            onInput={(e) => {
              setReference((e.currentTarget as HTMLInputElement).value);
              setError(null);
            }}
          />
        </label>
      )}
      {error && (
        <p class="form-error" data-testid="tender-error" role="alert">
          {t(error)}
        </p>
      )}
      {state.tenders.length > 0 && (
        <ul class="tender-lines" data-testid="tender-lines">
          {state.tenders.map((tt, i) => (
            <li key={i} data-testid="tender-line">
              <span>{methodLabel(t, tt.method)}</span>
              <span class="ref">{tt.reference ?? ''}</span>
              <b>{rupiah(tt.amount)}</b>
              <button type="button" class="btn ghost" onClick={() => setState(tender.removeAt(state, i))}>
                <Icon name="close" />
              </button>
            </li>
          ))}
        </ul>
      )}
      <div class="tender-figures">
        <p class="kv">
          <span>{t('remaining')}</span>
          <b data-testid="tender-remaining">{rupiah(pv.remaining)}</b>
        </p>
        {method === 'cash' && (
          <p class="kv change-preview">
            <span>{t('change')}</span>
            <b data-testid="tender-change">{rupiah(pv.change)}</b>
          </p>
        )}
      </div>
      <p class="hint tender-hint">{t('quick_cash_hint')} · Enter = {t('pay')} · Esc = {t('cancel')}</p>
      <div class="tender-actions">
        <button type="button" class="btn big" onClick={onCancel} disabled={busy}>
          Esc {t('cancel')}
        </button>
        <button type="button" class="btn big" onClick={() => addCurrent()} disabled={busy || tender.isComplete(state)} data-testid="tender-add">
          + {t('add_tender')}
        </button>
        <button type="button" class="btn primary big pay" onClick={payButton} disabled={busy} data-testid="tender-pay">
          <Icon name="enter" /> {t('pay')}
        </button>
      </div>
    </section>
  );
}
