import { useState } from 'preact/hooks';
import { api, errorCode, toAppError } from '../api';
import type { ReportView } from '../bindings/ReportView';
import { useApp } from '../ctx';
import { DENOMINATIONS, countTotal, parseRupiah, rupiah } from '../format';
import { methodLabel } from '../i18n';
import { useHotkeys } from '../hotkeys';
import { Field, Modal, Paper } from './common';
import { Icon } from './icons';

/** "Some records are not at head office yet — continue?" */
function UndeliveredConfirm({ message, onConfirm, onCancel, testid }: { message: string; onConfirm: () => void; onCancel: () => void; testid: string }) {
  const { t } = useApp();
  return (
    <div class="warn-box" role="alert" data-testid="undelivered-warning">
      <p>
        <b>
          <Icon name="warn" /> {t('undelivered_warning')}
        </b>
      </p>
      <p>{message}</p>
      <p>{t('undelivered_hint')}</p>
      <div class="row">
        <button type="button" class="btn danger big" onClick={onConfirm} data-testid={testid}>
          {t('confirm_continue')}
        </button>
        <button type="button" class="btn big" onClick={onCancel}>
          {t('cancel')}
        </button>
      </div>
    </div>
  );
}

/** Sign out, with the undelivered warning when needed. */
export function SignOutButton() {
  const { t, setStatus, fail, clearError, closeOverlay } = useApp();
  const [warn, setWarn] = useState<string | null>(null);
  async function go(confirmed: boolean) {
    clearError();
    try {
      setStatus(await api.signOut(confirmed));
      setWarn(null);
      closeOverlay();
    } catch (e) {
      if (errorCode(e) === 'undelivered') setWarn(toAppError(e).message);
      else fail(e);
    }
  }
  if (warn !== null) {
    return <UndeliveredConfirm message={warn} onConfirm={() => go(true)} onCancel={() => setWarn(null)} testid="sign-out-confirm" />;
  }
  return (
    <button type="button" class="btn big" onClick={() => go(false)} data-testid="sign-out">
      {t('sign_out')}
    </button>
  );
}

type View = 'menu' | 'cash_in' | 'cash_out' | 'close' | 'no_sale';

/** F9: X report, cash in/out, no sale, close shift, sign out, lock. */
export function ShiftMenu() {
  const { t, status, setStatus, fail, clearError, closeOverlay, open, notify } = useApp();
  const [view, setView] = useState<View>('menu');
  const [amount, setAmount] = useState('');
  const [reason, setReason] = useState('');
  const [warn, setWarn] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The drawer counted by note and coin (count as typed, per value).
  const [counts, setCounts] = useState<Record<number, string>>({});
  const hasShift = !!status?.shift;
  const counted = countTotal(counts);
  // Counting by note fills the counted cash; else the typed total.
  const value = counted ?? parseRupiah(amount);

  async function run<R>(f: () => Promise<R>): Promise<R | null> {
    clearError();
    setBusy(true);
    try {
      return await f();
    } catch (e) {
      fail(e);
      return null;
    } finally {
      setBusy(false);
    }
  }

  const xReport = () => run(api.xReport.bind(null, false)).then((r) => r && open({ kind: 'report', report: r }));

  async function cashMove(e: Event) {
    e.preventDefault();
    if (value === null || value <= 0) return;
    const s = await run(() => api.cashMove(view === 'cash_in' ? 'in' : 'out', value, reason.trim() || null));
    if (s) {
      setStatus(s);
      notify(t('cash_moved'));
      closeOverlay();
    }
  }

  async function closeShift(confirmed: boolean) {
    if (value === null) return;
    clearError();
    setBusy(true);
    try {
      const denominations = DENOMINATIONS.map((d) => ({ value: d, count: Number((counts[d] ?? '').trim() || '0') })).filter(
        (c) => c.count > 0,
      );
      const report = await api.closeShift(value, counted === null ? [] : denominations, confirmed);
      setWarn(null);
      open({ kind: 'report', report });
      void api.status().then(setStatus, () => undefined);
    } catch (e) {
      if (errorCode(e) === 'undelivered') setWarn(toAppError(e).message);
      else fail(e);
    } finally {
      setBusy(false);
    }
  }

  async function noSale(why: string) {
    if (why.trim() === '') return;
    const done = await run(() => api.openDrawer(why.trim()));
    if (done) {
      notify(t('drawer_opened', { n: done.no_sales }));
      closeOverlay();
    }
  }

  // Menu keys: the digit of each entry.
  useHotkeys((e) => {
    if (view !== 'menu' || e.ctrlKey || e.altKey) return false;
    const actions: Record<string, () => void> = {
      '1': () => hasShift && void xReport(),
      '2': () => hasShift && setView('cash_in'),
      '3': () => hasShift && setView('cash_out'),
      '4': () => hasShift && setView('close'),
      '5': () => {
        closeOverlay();
        void api.lock().then(setStatus, fail);
      },
      '6': () => open({ kind: 'settings' }),
      '7': () => open({ kind: 'undelivered' }),
      '8': () => hasShift && setView('no_sale'),
    };
    const f = actions[e.key];
    if (!f) return false;
    e.preventDefault();
    f();
    return true;
  });

  const back =
    view === 'menu'
      ? closeOverlay
      : () => {
          setView('menu');
          setWarn(null);
          setAmount('');
          setReason('');
          setCounts({});
        };

  return (
    <Modal title={t('menu_title')} onClose={back} testid="shift-menu">
      {view === 'menu' && (
        <div class="menu-grid">
          <button type="button" class="btn big" disabled={!hasShift || busy} onClick={xReport} data-testid="menu-x-report">
            <kbd>1</kbd> {t('x_report')}
          </button>
          <button type="button" class="btn big" disabled={!hasShift} onClick={() => setView('cash_in')} data-testid="menu-cash-in">
            <kbd>2</kbd> {t('cash_in')}
          </button>
          <button type="button" class="btn big" disabled={!hasShift} onClick={() => setView('cash_out')} data-testid="menu-cash-out">
            <kbd>3</kbd> {t('cash_out')}
          </button>
          <button type="button" class="btn big" disabled={!hasShift} onClick={() => setView('close')} data-testid="menu-close-shift">
            <kbd>4</kbd> {t('close_shift')}
          </button>
          <button
            type="button"
            class="btn big"
            onClick={() => {
              closeOverlay();
              void api.lock().then(setStatus, fail);
            }}
            data-testid="menu-lock"
          >
            <kbd>5</kbd> {t('key_lock')}
          </button>
          <button type="button" class="btn big" onClick={() => open({ kind: 'settings' })} data-testid="menu-settings">
            <kbd>6</kbd> {t('key_settings')}
          </button>
          <button type="button" class="btn big" onClick={() => open({ kind: 'undelivered' })} data-testid="menu-undelivered">
            <kbd>7</kbd> {t('undelivered_title')}
          </button>
          <button type="button" class="btn big" disabled={!hasShift} onClick={() => setView('no_sale')} data-testid="menu-no-sale">
            <kbd>8</kbd> {t('no_sale')}
          </button>
          <SignOutButton />
        </div>
      )}
      {(view === 'cash_in' || view === 'cash_out') && (
        <form onSubmit={cashMove}>
          <h3>{view === 'cash_in' ? t('cash_in') : t('cash_out')}</h3>
          <Field label={t('amount')} value={amount} onValue={setAmount} inputMode="numeric" testid="cash-move-amount" autoFocusSelect />
          <p class="amount-echo">{value === null ? '' : rupiah(value)}</p>
          <Field label={t('reason')} value={reason} onValue={setReason} testid="cash-move-reason" />
          <button class="btn primary big" type="submit" disabled={busy || value === null || value <= 0} data-testid="cash-move-submit">
            {t('ok')}
          </button>
        </form>
      )}
      {view === 'no_sale' && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void noSale(reason);
          }}
        >
          <h3>{t('no_sale')}</h3>
          <p class="muted">{t('no_sale_hint')}</p>
          <div class="row">
            <button type="button" class="btn big" disabled={busy} onClick={() => noSale(t('no_sale_change'))} data-testid="no-sale-change">
              {t('no_sale_change')}
            </button>
            <button type="button" class="btn big" disabled={busy} onClick={() => noSale(t('no_sale_check'))} data-testid="no-sale-check">
              {t('no_sale_check')}
            </button>
          </div>
          <Field label={t('no_sale_other')} value={reason} onValue={setReason} testid="no-sale-reason" autoFocusSelect />
          <button class="btn primary big" type="submit" disabled={busy || reason.trim() === ''} data-testid="no-sale-submit">
            {t('ok')}
          </button>
        </form>
      )}
      {view === 'close' && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (warn === null) void closeShift(false);
          }}
        >
          <h3>{t('close_shift')}</h3>
          {status?.shift && (
            <p class="kv">
              <span>{t('expected_cash')}</span>
              <b>{rupiah(status.shift.expected_cash)}</b>
            </p>
          )}
          <Field
            label={t('counted_cash')}
            value={counted === null ? amount : String(counted)}
            onValue={setAmount}
            inputMode="numeric"
            testid="close-shift-counted"
            readOnly={counted !== null}
            autoFocusSelect
          />
          <p class="amount-echo">{value === null ? '' : rupiah(value)}</p>
          <fieldset class="denominations" data-testid="close-shift-denominations">
            <legend>{t('count_by_note')}</legend>
            {DENOMINATIONS.map((d) => (
              <label key={d} class="denomination">
                <span>{rupiah(d)}</span>
                <input
                  type="text"
                  inputMode="numeric"
                  size={3}
                  value={counts[d] ?? ''}
                  onInput={(e) => setCounts({ ...counts, [d]: (e.currentTarget as HTMLInputElement).value })}
                  aria-label={`${rupiah(d)} ${t('note_count')}`}
                  data-testid={`count-${d}`}
                />
              </label>
            ))}
          </fieldset>
          {warn === null ? (
            <button class="btn danger big" type="submit" disabled={busy || value === null} data-testid="close-shift-submit">
              {t('close_shift')}
            </button>
          ) : (
            <UndeliveredConfirm message={warn} onConfirm={() => closeShift(true)} onCancel={() => setWarn(null)} testid="close-shift-confirm" />
          )}
        </form>
      )}
    </Modal>
  );
}

/** An X or Z report: key figures and the text as printed. */
export function Report({ report }: { report: ReportView }) {
  const { t, closeOverlay, fail, notify } = useApp();
  const isZ = report.kind.toUpperCase() === 'Z';
  return (
    <Modal title={isZ ? t('report_z') : t('report_x')} onClose={closeOverlay} testid="report" wide>
      <div class="report">
        <div class="report-figures">
          <p class="kv">
            <span>{t('sales_count')}</span>
            <b data-testid="report-sales-count">{report.sales_count}</b>
          </p>
          <p class="kv big">
            <span>{t('sales_total')}</span>
            <b data-testid="report-sales-total" data-amount={report.sales_total}>
              {rupiah(report.sales_total)}
            </b>
          </p>
          <p class="kv">
            <span>{t('voids_count')}</span>
            <b>{report.voids_count}</b>
          </p>
          <p class="kv">
            <span>{t('refunds_total')}</span>
            <b>{rupiah(report.refunds_total)}</b>
          </p>
          {report.payments.map((p) => (
            <p class="kv" key={p.method}>
              <span>{methodLabel(t, p.method)}</span>
              <b>{rupiah(p.amount)}</b>
            </p>
          ))}
          <p class="kv">
            <span>{t('no_sales')}</span>
            <b data-testid="report-no-sales">{report.no_sales}</b>
          </p>
          <p class="kv">
            <span>{t('expected_cash')}</span>
            <b data-testid="report-expected-cash">{rupiah(report.expected_cash)}</b>
          </p>
          {report.counted_cash !== null && (
            <p class="kv">
              <span>{t('counted')}</span>
              <b>{rupiah(report.counted_cash)}</b>
            </p>
          )}
          {report.variance !== null && (
            <p class={`kv big ${report.variance < 0 ? 'neg' : ''}`}>
              <span>{t('variance')}</span>
              <b data-testid="report-variance">{rupiah(report.variance)}</b>
            </p>
          )}
          <div class="row">
            {!isZ && (
              <button
                type="button"
                class="btn big"
                onClick={() => api.xReport(true).then(() => notify(t('reprint_ok')), fail)}
                data-testid="report-print"
              >
                <Icon name="print" /> {t('print')}
              </button>
            )}
            <button type="button" class="btn primary big" onClick={closeOverlay} data-testid="report-close">
              {t('close')}
            </button>
          </div>
        </div>
        <Paper lines={report.lines} testid="report-lines" />
      </div>
    </Modal>
  );
}
