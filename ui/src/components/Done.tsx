import { useEffect, useRef } from 'preact/hooks';
import { api } from '../api';
import type { SaleDone } from '../bindings/SaleDone';
import { useApp } from '../ctx';
import { rupiah } from '../format';
import { useHotkeys } from '../hotkeys';
import { doneAction } from '../keys';
import { Paper } from './common';
import { Icon } from './icons';

/** Print state of a job: printed, waiting, or no printer at all. */
export function PrintStatus({ jobId }: { jobId: number | null }) {
  const { t, printJobs, setPrintJobs, fail } = useApp();
  if (jobId === null) {
    return (
      <p class="print-status none" data-testid="print-status" data-state="none">
        {t('print_none')}
      </p>
    );
  }
  const job = printJobs.find((j) => j.job_id === jobId);
  if (job?.status === 'printed') {
    return (
      <p class="print-status ok" data-testid="print-status" data-state="printed">
        <Icon name="done" /> {t('print_printed')}
      </p>
    );
  }
  return (
    <p class="print-status waiting" data-testid="print-status" data-state="pending">
      <Icon name="wait" /> {t('print_waiting')}
      {job?.last_error ? ` (${job.last_error})` : ''}
      <button type="button" class="btn" data-testid="print-retry" onClick={() => api.retryPrint().then(setPrintJobs, fail)}>
        F3 {t('retry')}
      </button>
    </p>
  );
}

/** After `pay`: the change, huge; the receipt; print status. */
export function Done({ sale, onNext }: { sale: SaleDone; onNext: (typed?: string) => void }) {
  const { t, setPrintJobs, fail } = useApp();
  const next = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    next.current?.focus();
    if (sale.print_job !== null) api.printJobs().then(setPrintJobs, () => undefined);
  }, []);
  useHotkeys((e) => {
    const a = doneAction(e);
    if (!a) return false;
    // A held Enter from the tender must not skip past the change.
    if (e.repeat) {
      e.preventDefault();
      return true;
    }
    e.preventDefault();
    if (a === 'next_sale') onNext();
    else if (a === 'type_ahead') onNext(e.key);
    else void api.retryPrint().then(setPrintJobs, fail);
    return true;
  });
  return (
    <section class="done" data-testid="done-screen">
      <div class="done-main">
        <h2>
          <Icon name="done" /> {t('sale_done')}
        </h2>
        <p class="change-label">{t('change')}</p>
        <p class="change-amount" data-testid="change-amount" data-amount={sale.change}>
          {rupiah(sale.change)}
        </p>
        <p class="kv">
          <span>{t('total')}</span>
          <b>{rupiah(sale.total)}</b>
        </p>
        <p class="kv">
          <span>{t('paid')}</span>
          <b>{rupiah(sale.paid)}</b>
        </p>
        <p class="kv">
          <span>{t('receipt_no')}</span>
          <b data-testid="receipt-no">{sale.receipt_no}</b>
        </p>
        <PrintStatus jobId={sale.print_job} />
        <button ref={next} type="button" class="btn primary huge" onClick={() => onNext()} data-testid="next-sale">
          <Icon name="enter" /> {t('next_sale')}
        </button>
      </div>
      <Paper lines={sale.preview} testid="receipt-preview" />
    </section>
  );
}
