import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, toAppError } from '../api';
import type { AppStatus } from '../bindings/AppStatus';
import type { Operator } from '../bindings/Operator';
import { useApp } from '../ctx';
import { useHotkeys } from '../hotkeys';
import { pinScreenShown } from '../perf';
import { PinPad } from './common';
import { Icon } from './icons';

function PinEntry({
  pin,
  setPin,
  onSubmit,
  error,
  busy,
  label,
}: {
  pin: string;
  setPin: (p: string) => void;
  onSubmit: () => void;
  error: string;
  busy: boolean;
  label: string;
}) {
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <form
      class="pin-entry"
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit();
      }}
    >
      <input
        ref={ref}
        class="pin-input"
        type="password"
        inputMode="numeric"
        autoComplete="off"
        maxLength={8}
        value={pin}
        placeholder="••••"
        data-testid="pin-input"
        onInput={(e) => setPin((e.currentTarget as HTMLInputElement).value.replace(/\D/g, ''))}
      />
      <PinPad value={pin} onValue={setPin} />
      <p class="pin-error" data-testid="pin-error" role="alert" hidden={!error}>
        {error}
      </p>
      <button class="btn primary big" type="submit" disabled={busy} data-testid="pin-submit">
        <Icon name="enter" /> {label}
      </button>
    </form>
  );
}

/** Sign-in: choose a cashier tile, type the PIN. */
export function SignIn({ onSignedIn, onCancel }: { onSignedIn: (s: AppStatus) => void; onCancel?: () => void }) {
  const { t, sync } = useApp();
  const [cashiers, setCashiers] = useState<Operator[] | null>(null);
  const [sel, setSel] = useState<number | null>(null);
  const [pin, setPin] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  useLayoutEffect(pinScreenShown, []);
  useEffect(() => {
    // Cashiers of a new till arrive with its first sync rounds.
    if (cashiers && cashiers.length > 0) return;
    api
      .cashiers()
      .then((list) => {
        setCashiers(list);
        if (list.length === 1) setSel(0);
      })
      .catch((e) => setError(toAppError(e).message));
  }, [sync?.in_cloud, sync?.state]);

  const list = cashiers ?? [];

  async function submit() {
    if (busy) return;
    const op = sel === null ? undefined : list[sel];
    if (!op) return setError(t('choose_cashier'));
    if (pin.length < 4) return setError(t('pin_format'));
    setBusy(true);
    try {
      onSignedIn(await api.signIn(op.user_id, pin));
    } catch (e) {
      setError(toAppError(e).message);
      setPin('');
    } finally {
      setBusy(false);
    }
  }

  function choose(i: number) {
    setSel(i);
    setError('');
    setPin('');
    (document.querySelector('[data-testid="pin-input"]') as HTMLInputElement | null)?.focus();
  }

  useHotkeys((e) => {
    if (e.ctrlKey || e.altKey || e.metaKey || list.length === 0) return false;
    const n = list.length;
    const cols = 4;
    const step: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -cols, ArrowDown: cols };
    if (e.key in step) {
      e.preventDefault();
      const from = sel ?? -1;
      const to = Math.min(Math.max(from + step[e.key]!, 0), n - 1);
      choose(to);
      return true;
    }
    if (sel === null && /^[1-9]$/.test(e.key) && Number(e.key) <= n) {
      e.preventDefault();
      choose(Number(e.key) - 1);
      return true;
    }
    if (sel !== null && /^[0-9]$/.test(e.key) && (e.target as HTMLElement | null)?.tagName !== 'INPUT') {
      e.preventDefault();
      if (pin.length < 8) setPin(pin + e.key);
      return true;
    }
    if (e.key === 'Escape') {
      if (!pin && onCancel) onCancel();
      else if (pin) setPin('');
      else if (list.length > 1) setSel(null);
      setError('');
      return true;
    }
    return false;
  });

  return (
    <main class="screen signin" data-testid="pin-screen">
      <h1>{t('sign_in_title')}</h1>
      <div class="signin-cols">
        <div class="tiles">
          {cashiers && list.length === 0 && <p class="hint">{t('no_cashiers')}</p>}
          {list.map((op, i) => (
            <button
              type="button"
              key={op.user_id}
              class={`tile${sel === i ? ' selected' : ''}`}
              data-testid="cashier-tile"
              data-user-id={op.user_id}
              aria-pressed={sel === i}
              onClick={() => choose(i)}
            >
              {i < 9 && <span class="tile-key">{i + 1}</span>}
              <span class="tile-name">{op.name}</span>
              <span class="tile-role">{op.role}</span>
            </button>
          ))}
        </div>
        <div class="panel pin-panel">
          <h2>{sel !== null && list[sel] ? list[sel]!.name : t('choose_cashier')}</h2>
          <PinEntry pin={pin} setPin={(p) => { setPin(p); setError(''); }} onSubmit={submit} error={error} busy={busy} label={t('sign_in')} />
          {onCancel && (
            <button type="button" class="btn" onClick={onCancel} data-testid="sign-in-cancel">
              Esc {t('cancel')}
            </button>
          )}
        </div>
      </div>
    </main>
  );
}

/** The till is locked: the cashier's or a supervisor's PIN opens it. */
export function Lock({ status, onUnlocked, onSwitch }: { status: AppStatus; onUnlocked: (s: AppStatus) => void; onSwitch: () => void }) {
  const { t } = useApp();
  const [pin, setPin] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit() {
    if (busy) return;
    if (pin.length < 4) return setError(t('pin_format'));
    setBusy(true);
    try {
      onUnlocked(await api.unlock(pin));
    } catch (e) {
      setError(toAppError(e).message);
      setPin('');
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="screen lock" data-testid="lock-screen">
      <div class="panel pin-panel center">
        <h1>
          <Icon name="lock" /> {t('locked_title')}
        </h1>
        <p class="big-name">{status.operator?.name}</p>
        <p class="hint">{t('locked_hint')}</p>
        <PinEntry pin={pin} setPin={(p) => { setPin(p); setError(''); }} onSubmit={submit} error={error} busy={busy} label={t('unlock')} />
        <button type="button" class="btn" onClick={onSwitch} data-testid="switch-cashier">
          {t('switch_cashier')}
        </button>
      </div>
    </main>
  );
}
