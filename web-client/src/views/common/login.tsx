/** The login form. Errors are shown by their stable code; the URL is kept, so a deep link survives login. */
import { useState } from 'preact/hooks';
import { login } from '../../app/session.ts';
import { t } from '../../i18n/i18n.ts';
import { ErrorText } from '../../ui/ui.tsx';

export function LoginView() {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!name.trim() || !password) return;
    setBusy(true);
    setError(null);
    try {
      await login(name.trim(), password);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
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
