import { useState } from 'preact/hooks';
import { api } from '../api';
import { useApp } from '../ctx';
import { parseRupiah, rupiah } from '../format';
import { Field } from './common';
import { SignOutButton } from './ShiftMenu';

/** Signed in, no shift open: count the float into the drawer. */
export function OpenShift() {
  const { t, setStatus, fail, clearError, status } = useApp();
  const [float, setFloat] = useState('');
  const [busy, setBusy] = useState(false);
  const amount = parseRupiah(float === '' ? '0' : float);

  async function submit(e: Event) {
    e.preventDefault();
    if (amount === null || busy) return;
    clearError();
    setBusy(true);
    try {
      setStatus(await api.openShift(amount));
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="screen open-shift" data-testid="open-shift-screen">
      <form class="panel center" onSubmit={submit}>
        <h1>{t('open_shift_title')}</h1>
        <p class="big-name">{status?.operator?.name}</p>
        <Field
          label={t('opening_float')}
          value={float}
          onValue={setFloat}
          testid="open-shift-float"
          inputMode="numeric"
          placeholder="0"
          autoFocusSelect
        />
        <p class="amount-echo">{amount === null ? t('amount_invalid') : rupiah(amount)}</p>
        <button class="btn primary big" type="submit" disabled={busy || amount === null} data-testid="open-shift-submit">
          {t('open_shift')}
        </button>
        <SignOutButton />
      </form>
    </main>
  );
}
