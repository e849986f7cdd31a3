import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, onPrint, onSync, setErrorWording, startedAt, toAppError, type InstallSettings } from './api';
import type { AppError } from './bindings/AppError';
import type { AppStatus } from './bindings/AppStatus';
import type { PrintJob } from './bindings/PrintJob';
import type { SyncView } from './bindings/SyncView';
import { Ctx, type AppCtx, type Overlay } from './ctx';
import { useHotkeys } from './hotkeys';
import { isLang, translator, type Lang } from './i18n';
import { globalAction } from './keys';
import { perf } from './perf';
import { OpenShift } from './components/OpenShift';
import { PrintQueueDialog, ReceiptDialog, SettingsDialog, SupervisorDialog, UndeliveredDialog } from './components/Overlays';
import { Lock, SignIn } from './components/Pin';
import { Sale } from './components/Sale';
import { Setup } from './components/Setup';
import { Report, ShiftMenu } from './components/ShiftMenu';
import { StatusBar } from './components/StatusBar';
import { Icon } from './components/icons';

const LANG_KEY = 'sentra.lang';
const SYNC_POLL_MS = 15_000;

type SupervisorAsk = { message: string; error: string; resolve: (pin: string | null) => void };

function storedLang(): Lang | null {
  try {
    const l = localStorage.getItem(LANG_KEY);
    return isLang(l) ? l : null;
  } catch {
    return null;
  }
}

export function App() {
  const [booted, setBooted] = useState(false);
  const [install, setInstall] = useState<InstallSettings | null>(null);
  const [status, setStatusState] = useState<AppStatus | null>(null);
  const [overlay, setOverlay] = useState<Overlay | null>(null);
  const [error, setError] = useState<AppError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [printJobs, setPrintJobs] = useState<PrintJob[]>([]);
  const [sync, setSync] = useState<SyncView | null>(null);
  const [langOverride, setLangOverride] = useState<Lang | null>(storedLang);
  const [switching, setSwitching] = useState(false);
  const [sup, setSup] = useState<SupervisorAsk | null>(null);
  const noticeTimer = useRef<number | undefined>(undefined);

  const signedIn = !!status?.operator && !status.locked;
  const settingsLang = status?.settings.language;
  const lang: Lang = (signedIn && isLang(settingsLang) ? settingsLang : null) ?? langOverride ?? (isLang(settingsLang) ? settingsLang : 'id');
  const t = useMemo(() => translator(lang), [lang]);
  // Errors from the core are worded in the same language.
  setErrorWording(t, lang);

  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);

  // The till's saved language is also the one before the next sign-in.
  useEffect(() => {
    if (signedIn && isLang(settingsLang)) {
      setLangOverride(settingsLang);
      try {
        localStorage.setItem(LANG_KEY, settingsLang);
      } catch {
        // Private mode: fine.
      }
    }
  }, [signedIn, settingsLang]);

  // Boot: the status, and the process start for the cold-start figure.
  useEffect(() => {
    api.boot().then(
      (b) => {
        const started = startedAt(b);
        if (started !== null) perf().processStartedAt = started;
        setStatusState(b.status);
        setInstall(b.install ?? null);
        setBooted(true);
        requestAnimationFrame(() => {
          perf().firstScreenAt = Date.now();
        });
      },
      (e) => {
        setError(toAppError(e));
        setBooted(true);
      },
    );
    const unlisten: Promise<() => void>[] = [];
    try {
      unlisten.push(onSync(setSync), onPrint(setPrintJobs));
    } catch {
      // Not inside Tauri (a plain browser): no events.
    }
    return () => unlisten.forEach((u) => void u.then((f) => f()).catch(() => undefined));
  }, []);

  // Sync state and print jobs once the till is set up; then a slow poll in
  // case an event was missed.
  const setUp = !!status?.setup;
  useEffect(() => {
    if (!setUp) return;
    const poll = () => api.syncState().then(setSync, () => undefined);
    void poll();
    api.printJobs().then(setPrintJobs, () => undefined);
    const id = setInterval(poll, SYNC_POLL_MS);
    return () => clearInterval(id);
  }, [setUp]);

  const ctx: AppCtx = {
    t,
    lang,
    status,
    setStatus: (s) => setStatusState(s),
    refreshStatus: () => api.status().then(setStatusState, () => undefined),
    fail(e) {
      const err = toAppError(e);
      setError(err);
      if (err.code === 'not_signed_in' || err.code === 'locked') {
        setOverlay(null);
        void api.status().then(setStatusState, () => undefined);
      }
      return err;
    },
    clearError: () => setError(null),
    notify(message) {
      setNotice(message);
      clearTimeout(noticeTimer.current);
      noticeTimer.current = window.setTimeout(() => setNotice(null), 4000);
    },
    async supervised(call) {
      try {
        return await call(null);
      } catch (e) {
        const first = toAppError(e);
        if (first.code !== 'supervisor_required') throw e;
        let error = '';
        for (;;) {
          const pin = await new Promise<string | null>((resolve) => setSup({ message: first.message, error, resolve }));
          if (pin === null) {
            setSup(null);
            return null;
          }
          try {
            const r = await call(pin);
            setSup(null);
            return r;
          } catch (e2) {
            const err = toAppError(e2);
            if (err.code === 'supervisor_rejected' || err.code === 'pin_rejected' || err.code === 'pin_locked') {
              error = err.message;
              continue;
            }
            setSup(null);
            throw e2;
          }
        }
      }
    },
    open: (o) => setOverlay(o),
    closeOverlay: () => setOverlay(null),
    printJobs,
    setPrintJobs,
    sync,
    setSync,
  };

  function changeLang(l: Lang) {
    setLangOverride(l);
    try {
      localStorage.setItem(LANG_KEY, l);
    } catch {
      // Private mode: the choice lasts this session.
    }
    if (signedIn && status) {
      api.saveSettings({ ...status.settings, language: l }).then(setStatusState, () => undefined);
    }
  }

  // Fallback keys on every signed-in screen (the sale screen handles them first).
  useHotkeys(
    (e) => {
      if (e.key === 'Escape' && error) {
        setError(null);
        return true;
      }
      if (!signedIn) return false;
      const a = globalAction(e) ?? (e.key === 'F9' && !e.ctrlKey && !e.altKey ? 'shift_menu' : null);
      if (!a) return false;
      e.preventDefault();
      if (a === 'lock') void api.lock().then(setStatusState, ctx.fail);
      else if (a === 'sync_screen' && status?.setup) setOverlay({ kind: 'undelivered' });
      else if (a === 'settings') setOverlay({ kind: 'settings' });
      else if (a === 'shift_menu') setOverlay({ kind: 'menu' });
      return true;
    },
    true,
    true,
  );

  let screen;
  if (!booted) {
    screen = <main class="screen center">{t('app_loading')}</main>;
  } else if (status === null) {
    screen = <Setup retry={null} install={install} />;
  } else if (status.setup === 'unenrolled' || status.setup === null) {
    screen = <Setup retry={status} install={install} />;
  } else if (!status.operator || switching) {
    screen = (
      <SignIn
        onSignedIn={(s) => {
          setSwitching(false);
          setError(null);
          setStatusState(s);
        }}
        onCancel={switching && status.operator ? () => setSwitching(false) : undefined}
      />
    );
  } else if (status.locked) {
    screen = <Lock status={status} onUnlocked={setStatusState} onSwitch={() => setSwitching(true)} />;
  } else if (!status.shift) {
    screen = <OpenShift />;
  } else {
    screen = <Sale />;
  }

  // Overlays need a signed-in till, except the report right after a close.
  const showOverlay = overlay && (signedIn || overlay.kind === 'report');

  return (
    <Ctx.Provider value={ctx}>
      <div class="app">
        <StatusBar lang={lang} onLang={changeLang} />
        {error && (
          <div class="banner error" role="alert" data-testid="error-banner" data-code={error.code}>
            <span class="banner-icon">
              <Icon name="warn" />
            </span>
            <span class="banner-text" title={(error as { detail?: string }).detail ?? ""}>{error.message}</span>
            <button type="button" class="btn ghost" onClick={() => setError(null)} aria-label={t('close')}>
              <Icon name="close" />
            </button>
          </div>
        )}
        {notice && !error && (
          <div class="banner notice" role="status" data-testid="notice-banner">
            <Icon name="done" /> {notice}
          </div>
        )}
        {screen}
        {showOverlay && overlay.kind === 'menu' && <ShiftMenu />}
        {showOverlay && overlay.kind === 'report' && <Report report={overlay.report} />}
        {showOverlay && overlay.kind === 'receipt' && <ReceiptDialog />}
        {showOverlay && overlay.kind === 'settings' && <SettingsDialog />}
        {showOverlay && overlay.kind === 'undelivered' && <UndeliveredDialog />}
        {showOverlay && overlay.kind === 'print_queue' && <PrintQueueDialog />}
        {sup && (
          <SupervisorDialog
            message={sup.message}
            error={sup.error}
            onSubmit={(pin) => sup.resolve(pin)}
            onCancel={() => sup.resolve(null)}
          />
        )}
      </div>
    </Ctx.Provider>
  );
}
