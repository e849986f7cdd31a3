// The customer display: the second window, on the monitor that faces the
// customer (src-tauri customer_window.rs). It only shows what the till's
// core sends (`CustomerView`, built in crates/terminal pos/customer.rs):
// it asks once when it loads, then follows the `customer` event. It has no
// controls and never takes focus, so the cashier's scanner keeps typing
// into the till's window.

import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, onCustomer } from '../api';
import type { CustomerView } from '../bindings/CustomerView';
import { quantity, rupiah } from '../format';
import { isLang, methodLabel, translator, type T } from '../i18n';
import { Icon, type IconName } from './icons';
import '../customer.css';

/** Before the first answer (or on a till not set up): a plain welcome. */
const WAITING: CustomerView = {
  stage: 'idle',
  store_name: '',
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

export function CustomerDisplay() {
  const [view, setView] = useState<CustomerView>(WAITING);

  useEffect(() => {
    let live = true;
    let unlisten: (() => void) | undefined;
    // Listen first, then ask: a change between the two is not missed.
    onCustomer((v) => live && setView(v)).then(
      (u) => {
        if (live) unlisten = u;
        else u();
        api.customerView().then((v) => live && setView(v), () => undefined);
      },
      () => undefined,
    );
    return () => {
      live = false;
      unlisten?.();
    };
  }, []);

  return <CustomerScreen view={view} />;
}

/** One view drawn; no state of its own (the Vitest tests draw it directly). */
export function CustomerScreen({ view }: { view: CustomerView }) {
  const lang = isLang(view.language) ? view.language : 'id';
  const t = useMemo(() => translator(lang), [lang]);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);

  if (view.stage === 'idle') {
    return (
      <main class="customer stage-idle" data-testid="customer-display" data-stage="idle">
        <div class="welcome">
          <span class="welcome-icon">
            <Icon name="store" />
          </span>
          <p class="welcome-to">{t('customer_welcome')}</p>
          <h1 class="store" data-testid="customer-store">
            {view.store_name}
          </h1>
          <p class="welcome-hint">{t('customer_welcome_hint')}</p>
        </div>
      </main>
    );
  }

  return (
    <main class={`customer stage-${view.stage}`} data-testid="customer-display" data-stage={view.stage}>
      <header class="customer-head">
        <span class="store" data-testid="customer-store">
          {view.store_name}
        </span>
        <span class="count">{t('customer_items', { n: itemCount(view) })}</span>
      </header>
      <Lines view={view} />
      <aside class="customer-side">
        {view.stage === 'cart' && <Due t={t} view={view} />}
        {view.stage === 'tender' && <Paying t={t} view={view} />}
        {view.stage === 'paid' && <Paid t={t} view={view} />}
      </aside>
    </main>
  );
}

/** Whole pieces counted as such, a weighed line as one. */
function itemCount(view: CustomerView): number {
  return view.lines.reduce((n, l) => n + (l.quantity_milli % 1000 === 0 ? l.quantity_milli / 1000 : 1), 0);
}

/** The lines, the newest always in sight. */
function Lines({ view }: { view: CustomerView }) {
  const list = useRef<HTMLOListElement>(null);
  useLayoutEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [view.lines]);
  return (
    <ol class="customer-lines" ref={list}>
      {view.lines.map((l, i) => (
        <li key={i} data-testid="customer-line">
          <span class="name">{l.name}</span>
          <span class="qty">
            {quantity(l.quantity_milli)} × {rupiah(l.unit_price)}
          </span>
          <b class="amount">{rupiah(l.total)}</b>
        </li>
      ))}
    </ol>
  );
}

function Money({ label, amount, testid, big }: { label: string; amount: number; testid: string; big?: boolean }) {
  return (
    <p class={big ? 'money big' : 'money'}>
      <span>{label}</span>
      <b data-testid={testid} data-amount={amount}>
        {rupiah(amount)}
      </b>
    </p>
  );
}

function Savings({ t, view }: { t: T; view: CustomerView }) {
  return view.discounts > 0 ? <Money label={t('customer_savings')} amount={view.discounts} testid="customer-savings" /> : null;
}

function Due({ t, view }: { t: T; view: CustomerView }) {
  return (
    <>
      <Savings t={t} view={view} />
      <Money label={t('total')} amount={view.total} testid="customer-total" big />
    </>
  );
}

const METHOD_ICON: Record<string, IconName> = { cash: 'cash', card: 'card', qris: 'qr', voucher: 'voucher' };

function Paying({ t, view }: { t: T; view: CustomerView }) {
  const method = view.method ?? 'cash';
  return (
    <>
      <Money label={t('total')} amount={view.total} testid="customer-total" />
      {view.paid > 0 && <Money label={t('customer_paid_so_far')} amount={view.paid} testid="customer-paid" />}
      <Money label={t('customer_to_pay')} amount={view.remaining} testid="customer-remaining" big />
      {method === 'qris' ? (
        <div class="prompt qris" data-testid="customer-qris-prompt">
          <h2>
            <Icon name="qr" /> {t('customer_qris_title')}
          </h2>
          <ol>
            <li>{t('customer_qris_scan')}</li>
            <li>{t('customer_qris_amount', { amount: rupiah(view.remaining) })}</li>
            <li>{t('customer_qris_show')}</li>
          </ol>
        </div>
      ) : (
        <p class="prompt" data-testid="customer-method" data-method={method}>
          <Icon name={METHOD_ICON[method] ?? 'cash'} /> {methodPrompt(t, method)}
        </p>
      )}
    </>
  );
}

function methodPrompt(t: T, method: string): string {
  if (method === 'card') return t('customer_card_prompt');
  if (method === 'voucher') return t('customer_voucher_prompt');
  if (method === 'cash') return t('customer_cash_prompt');
  return methodLabel(t, method);
}

function Paid({ t, view }: { t: T; view: CustomerView }) {
  return (
    <>
      <Savings t={t} view={view} />
      <Money label={t('total')} amount={view.total} testid="customer-total" />
      <Money label={t('paid')} amount={view.paid} testid="customer-paid" />
      <Money label={t('change')} amount={view.change} testid="customer-change" big />
      <p class="thanks" data-testid="customer-thanks">
        <Icon name="done" /> {t('customer_thanks')}
      </p>
    </>
  );
}
