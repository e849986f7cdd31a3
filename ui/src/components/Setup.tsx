import { useState } from 'preact/hooks';
import { api } from '../api';
import type { InstallSettings } from '../api';
import type { AppStatus } from '../bindings/AppStatus';
import { useApp } from '../ctx';
import { Field } from './common';

/** First run: enroll with head office or start a local-only trial. With
 * `retry` (a till set up but not enrolled) only the enroll form shows. What
 * the installer was told (`install`, a fleet roll-out) fills the form in, so
 * only the one-time enrollment code is typed. */
export function Setup({ retry, install }: { retry: AppStatus | null; install?: InstallSettings | null }) {
  const { t, setStatus, fail, clearError } = useApp();
  const [busy, setBusy] = useState(false);
  const [server, setServer] = useState(install?.server_url ?? '');
  const [code, setCode] = useState('');
  const [branch, setBranch] = useState(retry?.branch ?? install?.branch ?? '');
  const [till, setTill] = useState(retry?.device_name ?? install?.till_name ?? '');
  const [relay, setRelay] = useState(install?.relay_url ?? '');
  const [trialTill, setTrialTill] = useState('');
  const [supervisor, setSupervisor] = useState('');
  const [pin, setPin] = useState('');
  const [pin2, setPin2] = useState('');
  const [trialErr, setTrialErr] = useState('');
  const [enrollErr, setEnrollErr] = useState('');

  async function enroll(e: Event) {
    e.preventDefault();
    if (!server.trim() || !code.trim() || !branch.trim() || !till.trim()) {
      setEnrollErr(t('required'));
      return;
    }
    setEnrollErr('');
    clearError();
    setBusy(true);
    try {
      setStatus(
        await api.setupEnrolled({
          branch: branch.trim(),
          deviceName: till.trim(),
          server: server.trim(),
          code: code.trim(),
          relay: relay.trim() === '' ? null : relay.trim(),
        }),
      );
    } catch (err) {
      setEnrollErr(fail(err).message);
    } finally {
      setBusy(false);
    }
  }

  async function trial(e: Event) {
    e.preventDefault();
    if (!trialTill.trim() || !supervisor.trim()) return setTrialErr(t('required'));
    // The trial's one user is a supervisor: 6 to 8 digits.
    if (!/^\d{6,8}$/.test(pin)) return setTrialErr(t('supervisor_pin_format'));
    if (pin !== pin2) return setTrialErr(t('pins_differ'));
    setTrialErr('');
    clearError();
    setBusy(true);
    try {
      setStatus(await api.setupTrial(trialTill.trim(), supervisor.trim(), pin));
    } catch (err) {
      setTrialErr(fail(err).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="screen setup" data-testid="setup-screen">
      <h1>{t('setup_title')}</h1>
      <div class="setup-cols">
        <form class="panel" onSubmit={enroll} data-testid="setup-enroll-form">
          <h2>{retry ? t('setup_retry_title') : t('setup_enroll_title')}</h2>
          <p class="hint">{t('setup_enroll_hint')}</p>
          <Field label={t('server_url')} value={server} onValue={setServer} testid="enroll-server" placeholder="https://" autoFocusSelect />
          <div class="field-pair">
            <Field label={t('enroll_code')} value={code} onValue={setCode} testid="enroll-code" autoComplete="off" />
            <Field label={t('branch_code')} value={branch} onValue={setBranch} testid="enroll-branch" disabled={!!retry} />
          </div>
          <div class="field-pair">
            <Field label={t('till_name')} value={till} onValue={setTill} testid="enroll-name" disabled={!!retry} />
            <Field label={t('relay_url')} value={relay} onValue={setRelay} testid="enroll-relay" placeholder="http://" />
          </div>
          {enrollErr && <p class="form-error" data-testid="enroll-error">{enrollErr}</p>}
          <button class="btn primary big" type="submit" disabled={busy} data-testid="setup-enroll">
            {t('enroll_submit')}
          </button>
        </form>
        {!retry && (
          <form class="panel" onSubmit={trial} data-testid="setup-trial-form">
            <h2>{t('setup_trial_title')}</h2>
            <p class="hint">{t('setup_trial_hint')}</p>
            <Field label={t('till_name')} value={trialTill} onValue={setTrialTill} testid="trial-name" />
            <Field label={t('supervisor_name')} value={supervisor} onValue={setSupervisor} testid="trial-supervisor" />
            <div class="field-pair">
              <Field label={t('pin')} value={pin} onValue={setPin} testid="trial-pin" type="password" inputMode="numeric" maxLength={8} />
              <Field label={t('pin_again')} value={pin2} onValue={setPin2} testid="trial-pin2" type="password" inputMode="numeric" maxLength={8} />
            </div>
            {trialErr && <p class="form-error" data-testid="trial-error">{trialErr}</p>}
            <button class="btn primary big" type="submit" disabled={busy} data-testid="setup-trial">
              {t('trial_submit')}
            </button>
          </form>
        )}
      </div>
    </main>
  );
}
