/**
 * The login form. Errors are shown by their stable code; the URL is kept, so a deep link survives login.
 * A user with an authenticator gets a second step: the 6-digit code, or one of the recovery codes.
 */
import { useState } from 'preact/hooks';
import { login, loginTotp } from '../../app/session.ts';
import { t } from '../../i18n/i18n.ts';
import { ErrorText } from '../../ui/ui.tsx';

function TotpStep(props: { challenge: string; onBack(): void }) {
  const [recovery, setRecovery] = useState(false);
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const v = value.trim();
    if (!v) return;
    setBusy(true);
    setError(null);
    try {
      await loginTotp(props.challenge, recovery ? { recoveryCode: v } : { code: v.replace(/\s/g, '') });
    } catch (err) {
      setError(err);
      setBusy(false);
      // An expired step needs the password again.
      if ((err as { code?: string }).code === 'QIAO_TOTP_CHALLENGE_INVALID') props.onBack();
    }
  };
  const toggle = () => {
    setRecovery(!recovery);
    setValue('');
    setError(null);
  };
  return (
    <form class="card login" data-testid="totp-form" onSubmit={submit}>
      <h1 class="login__title">{t('totpStepTitle')}</h1>
      <p class="login__hint">{recovery ? t('recoveryCodeHint') : t('totpStepHint')}</p>
      {recovery ? (
        // Keyed: a different input, not the code input with its numeric attributes patched away.
        <label class="field" key="recovery">
          <span class="field__label">{t('recoveryCodeLabel')}</span>
          <input id="recovery-code" name="recovery-code" data-testid="recovery-code-input" autoComplete="off" autoCapitalize="off" spellcheck={false} required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        </label>
      ) : (
        <label class="field" key="code">
          <span class="field__label">{t('totpCodeLabel')}</span>
          <input
            id="totp-code"
            name="totp-code"
            data-testid="totp-code-input"
            inputMode="numeric"
            autoComplete="one-time-code"
            pattern="\s*[0-9]{6}\s*"
            maxLength={8}
            required
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
          />
        </label>
      )}
      <ErrorText error={error} testid="totp-error" />
      <button type="submit" class="btn btn--primary btn--block" data-testid="totp-submit" disabled={busy}>
        {busy ? t('totpVerifying') : t('totpVerify')}
      </button>
      <div class="login__alt">
        <button type="button" class="btn btn--ghost" data-testid="totp-toggle-recovery" onClick={toggle}>
          {recovery ? t('useTotpCode') : t('useRecoveryCode')}
        </button>
        <button type="button" class="btn btn--ghost" data-testid="totp-back" onClick={props.onBack}>
          {t('backToPassword')}
        </button>
      </div>
    </form>
  );
}

export function LoginView() {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [challenge, setChallenge] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!name.trim() || !password) return;
    setBusy(true);
    setError(null);
    try {
      const step = await login(name.trim(), password);
      if (step) {
        setPassword('');
        setChallenge(step.challenge);
        setBusy(false);
      }
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  if (challenge) {
    return (
      <div class="login-page">
        <TotpStep challenge={challenge} onBack={() => setChallenge(null)} />
      </div>
    );
  }
  return (
    <div class="login-page">
      <form class="card login" data-testid="login-form" onSubmit={submit}>
        <h1 class="login__title">{t('loginTitle')}</h1>
        <label class="field">
          <span class="field__label">{t('loginLabel')}</span>
          <input id="login" name="login" data-testid="login-input" autoComplete="username" required autoCapitalize="off" spellcheck={false} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span class="field__label">{t('passwordLabel')}</span>
          <input id="password" name="password" type="password" data-testid="password-input" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <ErrorText error={error} testid="login-error" />
        <button type="submit" class="btn btn--primary btn--block" data-testid="login-submit" disabled={busy}>
          {busy ? t('loggingIn') : t('loginSubmit')}
        </button>
        <p class="login__hint">{t('demoHint')}</p>
      </form>
    </div>
  );
}
