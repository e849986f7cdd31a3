import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, errorCode, toAppError } from '../api';
import type { PosSettings } from '../bindings/PosSettings';
import type { ReceiptView } from '../bindings/ReceiptView';
import type { RefundDone } from '../bindings/RefundDone';
import type { UndeliveredView } from '../bindings/UndeliveredView';
import { useApp } from '../ctx';
import { dateTime, quantity, quantityText, rupiah } from '../format';
import { entryKind, methodLabel, printDocument } from '../i18n';
import { isQuantityText } from '../cart-state';
import { METHODS } from '../tender';
import { Field, Modal, Paper } from './common';
import { PrintStatus } from './Done';
import { Icon } from './icons';

/** F8: look up a receipt; reprint, void (supervisor) or refund items. */
export function ReceiptDialog() {
  const { t, closeOverlay, fail, clearError, supervised, setStatus, notify } = useApp();
  const [no, setNo] = useState('');
  const [last, setLast] = useState<string | null>(null);
  const [receipt, setReceipt] = useState<ReceiptView | null>(null);
  const [reason, setReason] = useState('');
  const [refunding, setRefunding] = useState(false);
  const [qty, setQty] = useState<Record<number, string>>({});
  const [method, setMethod] = useState('cash');
  const [refund, setRefund] = useState<RefundDone | null>(null);
  const [busy, setBusy] = useState(false);
  // Offline, the original cannot be fetched: a return without it, by a
  // supervisor with a reason, items as scanned (flagged for head office).
  const [lookupFailed, setLookupFailed] = useState(false);
  const [blind, setBlind] = useState(false);
  const [blindItems, setBlindItems] = useState<{ code: string; quantity: string }[]>([]);
  const [blindCode, setBlindCode] = useState('');
  const [blindQty, setBlindQty] = useState('1');

  useEffect(() => {
    api.lastReceipt().then(setLast, () => undefined);
  }, []);

  async function guarded(f: () => Promise<void>) {
    clearError();
    setBusy(true);
    try {
      await f();
    } catch (e) {
      fail(e);
    } finally {
      setBusy(false);
    }
  }

  const receiptNo = () => no.trim();

  const lookUp = () =>
    guarded(async () => {
      if (!receiptNo()) return;
      setRefund(null);
      setLookupFailed(false);
      try {
        setReceipt(await api.receipt(receiptNo()));
      } catch (e) {
        setReceipt(null);
        if (errorCode(e) === 'receipt_lookup') setLookupFailed(true);
        throw e;
      }
    });

  const addBlindItem = () => {
    if (!blindCode.trim() || !isQuantityText(blindQty.trim())) return;
    setBlindItems([...blindItems, { code: blindCode.trim(), quantity: blindQty.trim() }]);
    setBlindCode('');
    setBlindQty('1');
  };

  const doBlindRefund = () =>
    guarded(async () => {
      if (blindItems.length === 0 || !reason.trim()) {
        fail({ code: 'invalid', message: t('blind_needs') });
        return;
      }
      const r = await supervised((pin) => api.refundUnverified(receiptNo(), blindItems, method, pin, reason.trim()));
      if (r) {
        setRefund(r);
        setBlind(false);
        setBlindItems([]);
        notify(t('refund_ok', { no: r.refund_no, total: rupiah(r.total) }));
      }
    });

  const doVoid = () =>
    guarded(async () => {
      if (!receiptNo()) return;
      const s = await supervised((pin) => api.voidSale(receiptNo(), pin, reason.trim() || null));
      if (s) {
        setStatus(s);
        notify(t('voided_ok', { no: receiptNo() }));
        closeOverlay();
      }
    });

  const doReprint = () =>
    guarded(async () => {
      if (!receiptNo()) return;
      await api.reprint(receiptNo());
      notify(t('reprint_ok'));
    });

  const doRefund = () =>
    guarded(async () => {
      if (!receipt) return;
      const items = receipt.lines
        .map((l, i) => ({ code: l.sku, quantity: (qty[i] ?? '').trim() }))
        .filter((it) => it.quantity !== '' && it.quantity !== '0');
      if (items.length === 0 || items.some((it) => !isQuantityText(it.quantity))) {
        fail({ code: 'invalid', message: t('quantity_invalid') });
        return;
      }
      const r = await supervised((pin) => api.refund(receipt.receipt_no, items, method, pin, reason.trim() || null));
      if (r) {
        setRefund(r);
        setRefunding(false);
        notify(t('refund_ok', { no: r.refund_no, total: rupiah(r.total) }));
      }
    });

  return (
    <Modal title={t('receipt_title')} onClose={closeOverlay} testid="receipt-dialog" wide>
      <div class="receipt-dialog">
        <div>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void lookUp();
            }}
          >
            <Field label={t('receipt_no')} value={no} onValue={setNo} testid="void-receipt-input" autoComplete="off" autoFocusSelect />
            <div class="row">
              <button type="submit" class="btn big" disabled={busy} data-testid="receipt-lookup">
                <Icon name="enter" /> {t('look_up')}
              </button>
              {last && (
                <button type="button" class="btn big" onClick={() => setNo(last)} data-testid="receipt-last">
                  {t('last_receipt')}: {last}
                </button>
              )}
            </div>
          </form>
          {!refunding && <Field label={t('void_reason')} value={reason} onValue={setReason} testid="void-reason" />}
          <div class="row" hidden={refunding}>
            <button type="button" class="btn danger big" disabled={busy || !no.trim() || !!receipt?.other_till} onClick={doVoid} data-testid="void-submit">
              {t('void')}
            </button>
            <button type="button" class="btn big" disabled={busy || !no.trim() || !!receipt?.other_till} onClick={doReprint} data-testid="receipt-reprint">
              <Icon name="print" /> {t('reprint')}
            </button>
            <button
              type="button"
              class="btn big"
              disabled={busy || !receipt || receipt.status !== 'completed'}
              onClick={() => setRefunding(true)}
              data-testid="receipt-refund"
            >
              {t('refund')}
            </button>
          </div>
          {receipt && (
            <p class="kv">
              <span data-testid="receipt-status" data-status={receipt.status}>
                {receipt.status === 'voided' ? t('status_voided') : t('status_completed')} · {dateTime(receipt.sold_at_ms)}
                {receipt.other_till && <span data-testid="receipt-other-till"> · {t('other_till', { till: receipt.other_till })}</span>}
              </span>
              <b>{rupiah(receipt.total)}</b>
            </p>
          )}
          {refunding && receipt && (
            <div class="refund-form" data-testid="refund-form">
              <table class="cart small">
                <tbody>
                  {receipt.lines.map((l, i) => (
                    <tr key={i}>
                      <td>{l.name}</td>
                      <td class="r">{quantity(l.quantity_milli)}</td>
                      <td class="r">{rupiah(l.total)}</td>
                      <td>
                        <input
                          class="qty-input"
                          inputMode="decimal"
                          placeholder={quantityText(0)}
                          aria-label={t('refund_qty')}
                          data-testid="refund-qty"
                          data-sku={l.sku}
                          value={qty[i] ?? ''}
                          onInput={(e) => setQty({ ...qty, [i]: (e.currentTarget as HTMLInputElement).value })}
                        />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <div class="refund-actions">
                <label class="field">
                  <span>{t('refund_method')}</span>
                  <select value={method} onChange={(e) => setMethod((e.currentTarget as HTMLSelectElement).value)} data-testid="refund-method">
                    {METHODS.map((m) => (
                      <option key={m} value={m}>
                        {methodLabel(t, m)}
                      </option>
                    ))}
                  </select>
                </label>
                <button type="button" class="btn danger big" disabled={busy} onClick={doRefund} data-testid="refund-submit">
                  {t('refund')}
                </button>
              </div>
            </div>
          )}
          {lookupFailed && !blind && !refund && (
            <button type="button" class="btn big" onClick={() => setBlind(true)} data-testid="blind-refund">
              {t('blind_refund')}
            </button>
          )}
          {blind && (
            <div class="refund-form" data-testid="blind-refund-form">
              <p class="muted">{t('blind_refund_hint')}</p>
              <div class="row">
                <Field label={t('item_code')} value={blindCode} onValue={setBlindCode} testid="blind-code" autoComplete="off" />
                <Field label={t('refund_qty')} value={blindQty} onValue={setBlindQty} inputMode="decimal" testid="blind-qty" />
                <button type="button" class="btn big" onClick={addBlindItem} data-testid="blind-add">
                  {t('add')}
                </button>
              </div>
              <ul data-testid="blind-items">
                {blindItems.map((it, i) => (
                  <li key={i}>
                    {it.code} × {it.quantity}
                  </li>
                ))}
              </ul>
              <Field label={t('reason')} value={reason} onValue={setReason} testid="blind-reason" />
              <div class="refund-actions">
                <label class="field">
                  <span>{t('refund_method')}</span>
                  <select value={method} onChange={(e) => setMethod((e.currentTarget as HTMLSelectElement).value)}>
                    {METHODS.map((m) => (
                      <option key={m} value={m}>
                        {methodLabel(t, m)}
                      </option>
                    ))}
                  </select>
                </label>
                <button type="button" class="btn danger big" disabled={busy} onClick={doBlindRefund} data-testid="blind-submit">
                  {t('refund')}
                </button>
              </div>
            </div>
          )}
          {refund && (
            <>
              <p class="kv big">
                <span data-testid="refund-no">{refund.refund_no}</span>
                <b>{rupiah(refund.total)}</b>
              </p>
              <PrintStatus jobId={refund.print_job} />
            </>
          )}
        </div>
        {(refund || receipt) && <Paper lines={refund ? refund.preview : receipt!.preview} testid="receipt-lookup-preview" />}
      </div>
    </Modal>
  );
}

/** F11: printer, paper, language, receipt texts, supervisor threshold. */
export function SettingsDialog() {
  const { t, status, setStatus, closeOverlay, fail, clearError, notify } = useApp();
  const initial = status!.settings;
  const [s, setS] = useState<PosSettings>(initial);
  const [printer, setPrinter] = useState(initial.printer ?? '');
  const [busy, setBusy] = useState(false);

  async function save(e: Event) {
    e.preventDefault();
    clearError();
    setBusy(true);
    try {
      setStatus(await api.saveSettings({ ...s, printer: printer.trim() === '' ? null : printer.trim() }));
      notify(t('saved'));
      closeOverlay();
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal title={t('settings_title')} onClose={closeOverlay} testid="settings-dialog" wide>
      <form onSubmit={save} class="settings">
        <Field label={t('printer')} value={printer} onValue={setPrinter} testid="settings-printer" placeholder="192.168.1.50:9100" autoFocusSelect />
        <div class="field">
          <span>{t('paper')}</span>
          <div class="row">
            {(['mm58', 'mm80'] as const).map((p) => (
              <button
                type="button"
                key={p}
                class={`btn${s.paper === p ? ' selected' : ''}`}
                aria-pressed={s.paper === p}
                data-testid={`settings-paper-${p}`}
                onClick={() => setS({ ...s, paper: p })}
              >
                {p === 'mm58' ? '58 mm' : '80 mm'}
              </button>
            ))}
          </div>
        </div>
        <div class="field">
          <span>{t('language')}</span>
          <div class="row">
            {(['id', 'en'] as const).map((l) => (
              <button
                type="button"
                key={l}
                class={`btn${s.language === l ? ' selected' : ''}`}
                aria-pressed={s.language === l}
                data-testid={`settings-language-${l}`}
                onClick={() => setS({ ...s, language: l })}
              >
                {l === 'id' ? 'Bahasa Indonesia' : 'English'}
              </button>
            ))}
          </div>
        </div>
        <Field label={t('store_name')} value={s.store_name} onValue={(v) => setS({ ...s, store_name: v })} maxLength={40} testid="settings-store-name" />
        <Field label={t('receipt_footer')} value={s.receipt_footer} onValue={(v) => setS({ ...s, receipt_footer: v })} maxLength={120} testid="settings-footer" />
        <Field
          label={t('supervisor_threshold')}
          value={s.supervisor_discount_pct}
          onValue={() => {}}
          readOnly
          inputMode="decimal"
          testid="settings-threshold"
        />
        <div class="field">
          <span>{t('customer_display')}</span>
          <div class="row">
            {(['auto', 'always', 'off'] as const).map((m) => (
              <button
                type="button"
                key={m}
                class={`btn${s.customer_display === m ? ' selected' : ''}`}
                aria-pressed={s.customer_display === m}
                data-testid={`settings-customer-display-${m}`}
                onClick={() => setS({ ...s, customer_display: m })}
              >
                {t(`customer_display_${m}`)}
              </button>
            ))}
          </div>
        </div>
        <div class="row settings-actions">
          <button type="button" class="btn big" onClick={closeOverlay}>
            {t('cancel')}
          </button>
          <button type="submit" class="btn primary big" disabled={busy} data-testid="settings-save">
            {t('save')}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** F10: what has not reached head office, and what it refused. */
export function UndeliveredDialog() {
  const { t, closeOverlay, setSync, fail } = useApp();
  const [view, setView] = useState<UndeliveredView | null>(null);
  const [error, setError] = useState('');
  const load = () => api.undelivered().then(setView, (e) => setError(toAppError(e).message));
  useEffect(() => {
    void load();
  }, []);
  const heldBy = (h: string): string => (h === 'relay' ? t('held_by_relay') : t('held_by_local'));
  return (
    <Modal title={t('undelivered_title')} onClose={closeOverlay} testid="undelivered" wide>
      <div class="row">
        <button
          type="button"
          class="btn primary big"
          data-testid="sync-now"
          onClick={() =>
            api.syncNow().then((v) => {
              setSync(v);
              setTimeout(load, 1500);
            }, fail)
          }
        >
          <Icon name="sync" /> {t('sync_now')}
        </button>
      </div>
      {error && <p class="form-error">{error}</p>}
      <div data-testid="undelivered-list" class="undelivered-list" data-count={view ? view.entries.length + Number(view.more) : 0}>
        {view && view.entries.length === 0 && view.refused.length === 0 && <p class="hint">{t('undelivered_none')}</p>}
        {view && view.entries.length > 0 && (
          <table class="cart small">
            <tbody>
              {view.entries.map((e) => (
                <tr key={e.seq} data-testid="undelivered-entry" data-held-by={e.held_by}>
                  <td class="num">#{e.seq}</td>
                  <td>{entryKind(t, e.kind)}</td>
                  <td>{dateTime(e.at_ms)}</td>
                  <td class={`held held-${e.held_by}`}>{heldBy(e.held_by)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {view && view.more > 0 && <p class="hint">{t('more_entries', { n: view.more })}</p>}
        {view && view.refused.length > 0 && (
          <>
            <h3 class="refused-title">
              <Icon name="refused" /> {t('refused_title')}
            </h3>
            <ul class="refused">
              {view.refused.map((r) => (
                <li key={`${r.seq}-${r.upstream}`} data-testid="refused-entry">
                  <b>
                    #{r.seq} · {r.reason}
                  </b>{' '}
                  ({r.upstream}, {dateTime(r.at_ms)})
                  <div class="detail">{r.detail}</div>
                </li>
              ))}
            </ul>
          </>
        )}
      </div>
    </Modal>
  );
}

/** The print queue: pending jobs with their error, retry. */
export function PrintQueueDialog() {
  const { t, closeOverlay, printJobs, setPrintJobs, fail } = useApp();
  useEffect(() => {
    api.printJobs().then(setPrintJobs, () => undefined);
  }, []);
  return (
    <Modal title={t('print_queue_title')} onClose={closeOverlay} testid="print-queue-dialog">
      {printJobs.length === 0 && <p class="hint">{t('print_queue_empty')}</p>}
      <table class="cart small">
        <tbody>
          {printJobs.map((j) => (
            <tr key={j.job_id} data-testid="print-job" data-status={j.status}>
              <td>{j.document}</td>
              <td>{printDocument(t, j.kind)}</td>
              <td>{dateTime(j.created_at_ms)}</td>
              <td class={j.status === 'printed' ? 'ok' : 'warn'}>
                <Icon name={j.status === 'printed' ? 'done' : 'wait'} /> {j.status === 'printed' ? t('print_printed') : t('print_waiting')}
                {j.status !== 'printed' && ` · ${j.attempts} ${t('attempts')}`}
                {j.last_error && <div class="detail">{j.last_error}</div>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" class="btn primary big" data-testid="print-retry-all" onClick={() => api.retryPrint().then(setPrintJobs, fail)}>
        <Icon name="sync" /> {t('retry')}
      </button>
    </Modal>
  );
}

/** Asks a supervisor for their PIN; `error` after a rejected one. */
export function SupervisorDialog({
  message,
  error,
  onSubmit,
  onCancel,
}: {
  message: string;
  error: string;
  onSubmit: (pin: string) => void;
  onCancel: () => void;
}) {
  const { t } = useApp();
  const [pin, setPin] = useState('');
  // A rejected PIN is cleared for the next try (not on opening: typing may have begun).
  const shownError = useRef(error);
  useLayoutEffect(() => {
    if (error !== shownError.current) {
      shownError.current = error;
      setPin('');
    }
  }, [error]);
  return (
    <Modal title={t('supervisor_title')} onClose={onCancel} testid="supervisor-dialog">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (pin) onSubmit(pin);
        }}
      >
        <p class="hint">{message}</p>
        <Field
          label={t('supervisor_pin')}
          value={pin}
          onValue={(v) => setPin(v.replace(/\D/g, ''))}
          type="password"
          inputMode="numeric"
          maxLength={8}
          autoComplete="off"
          testid="supervisor-pin-input"
          autoFocusSelect
        />
        {error && (
          <p class="form-error" role="alert" data-testid="supervisor-pin-error">
            {error}
          </p>
        )}
        <div class="row">
          <button type="button" class="btn big" onClick={onCancel}>
            {t('cancel')}
          </button>
          <button type="submit" class="btn primary big" data-testid="supervisor-pin-submit">
            {t('approve')}
          </button>
        </div>
      </form>
    </Modal>
  );
}
