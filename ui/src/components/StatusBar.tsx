import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../ctx';
import { time } from '../format';
import type { Key } from '../i18n';
import type { Lang } from '../i18n';
import { Icon, type IconName } from './icons';

/** Icon and label key of each sync state; the colour comes from CSS `.sync-<state>`. */
export const SYNC_STATES: Record<string, { icon: IconName; label: Key }> = {
  online: { icon: 'online', label: 'sync_online' },
  syncing: { icon: 'sync', label: 'sync_syncing' },
  checking: { icon: 'waiting', label: 'sync_checking' },
  waiting: { icon: 'waiting', label: 'sync_waiting' },
  local_only: { icon: 'home', label: 'sync_local_only' },
  relay_unreachable: { icon: 'warn', label: 'sync_relay_unreachable' },
  uplink_down: { icon: 'up', label: 'sync_uplink_down' },
  offline: { icon: 'close', label: 'sync_offline' },
  cloud_refusing: { icon: 'refused', label: 'sync_cloud_refusing' },
  master_data_refused: { icon: 'warn', label: 'sync_master_refused' },
};

function Clock() {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), 5000);
    return () => clearInterval(id);
  }, []);
  return <span class="clock" data-testid="clock">{time(now)}</span>;
}

export function StatusBar({ lang, onLang }: { lang: Lang; onLang: (l: Lang) => void }) {
  const { t, status, sync, printJobs, open } = useApp();
  const known = sync ? SYNC_STATES[sync.state] : undefined;
  const pending = sync ? sync.local + sync.relay_only : 0;
  const printPending = printJobs.filter((j) => j.status === 'pending').length;
  const signedIn = !!status?.operator && !status.locked;
  const shift = status?.shift;
  return (
    <header class="statusbar">
      <span class="sb-item shrink till" title={status?.version}>
        <b>{status?.device_name ?? 'Sentra POS'}</b>
        {status?.branch ? ` · ${status.branch}` : ''}
      </span>
      <span class="sb-item shrink" data-testid="status-cashier">
        <Icon name="user" /> {status?.operator?.name ?? t('not_signed_in')}
      </span>
      {status?.operator && (
        <span class="sb-item shrink" data-testid="status-shift">
          {shift ? t('shift_since', { t: time(shift.opened_at_ms) }) : t('no_shift')}
        </span>
      )}
      <span class="sb-spacer" />
      {printPending > 0 && (
        <button type="button" class="sb-item sb-btn print-warn" data-testid="print-queue" onClick={() => open({ kind: 'print_queue' })}>
          <Icon name="print" /> {t('print_pending', { n: printPending })}
        </button>
      )}
      {sync && (
        <button
          type="button"
          class={`sb-item sb-btn sync sync-${known ? sync.state : 'unknown'}`}
          data-testid="sync-state"
          data-state={sync.state}
          title={sync.message ?? ''}
          onClick={() => status?.setup && open({ kind: 'undelivered' })}
        >
          <span class="sync-icon" aria-hidden="true">
            <Icon name={known?.icon ?? 'waiting'} />
          </span>
          <span>{t(known?.label ?? 'sync_unknown')}</span>
          <span class="sync-pending" data-testid="sync-pending" data-count={pending}>
            {pending} {t('pending')}
          </span>
          <span class="sync-last">
            {t('last_sync')} {sync.last_success_ms ? time(sync.last_success_ms) : t('never')}
          </span>
        </button>
      )}
      <button type="button" class="sb-item sb-btn" data-testid="lang-toggle" onClick={() => onLang(lang === 'id' ? 'en' : 'id')}>
        {lang === 'id' ? 'ID | en' : 'id | EN'}
      </button>
      {signedIn && (
        <button type="button" class="sb-item sb-btn" data-testid="menu-button" onClick={() => open({ kind: 'menu' })}>
          <Icon name="menu" /> F9 {t('key_menu')}
        </button>
      )}
      <Clock />
    </header>
  );
}
