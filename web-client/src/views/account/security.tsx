/**
 * /account/security (every role): two-step verification — status, enrolment (QR code and the secret as
 * text, confirmed with a first code, then the recovery codes shown once with a copy button), turning it
 * off where the role allows — and the password change. A role that must enrol and has not is sent here
 * after login, with the reason, and sees nothing else until it has enrolled (app/app.tsx).
 *
 * Password change, enrolment and turning it off end the other sessions: each answer carries a new
 * token, which replaces the session's (replaceToken).
 */
import { useState } from 'preact/hooks';
import { api, call, type Answer } from '../../api/api.ts';
import { needsTotp, notify, replaceToken, user } from '../../app/session.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { Button, ErrorText, Field, Loading, Page, Panel, Time } from '../../ui/ui.tsx';
import { useAction } from '../../ui/use-action.ts';
import { useLoad } from '../../ui/use-load.ts';

type Enrolment = Answer<'/api/auth/totp/enrol', 'post'>;

function RecoveryCodes(props: { codes: string[]; onDone(): void }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.codes.join('\n'));
      setCopied(true);
    } catch {
      // Clipboard refused (permissions): the codes stay on the page to copy by hand.
    }
  };
  return (
    <div class="recovery" data-testid="recovery-codes">
      <h3 class="recovery__title">{t('recoveryTitle')}</h3>
      <p class="recovery__hint">{t('recoveryHint')}</p>
      <ol class="recovery__list">
        {props.codes.map((c) => (
          <li key={c} class="recovery__code" data-testid="recovery-code">
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <div class="recovery__actions">
        <Button variant="ghost" testid="recovery-copy" onClick={() => void copy()}>
          {t('recoveryCopy')}
        </Button>
        {copied ? (
          <span class="recovery__copied" role="status" data-testid="recovery-copied">
            {t('recoveryCopied')}
          </span>
        ) : null}
        <Button variant="primary" testid="recovery-done" onClick={props.onDone}>
          {t('recoveryDone')}
        </Button>
      </div>
    </div>
  );
}

function EnrolForm(props: { onEnrolled(codes: string[]): void }) {
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [code, setCode] = useState('');
  const start = useAction();
  const confirm = useAction();
  if (!enrolment) {
    return (
      <div>
        <Button variant="primary" testid="totp-start" disabled={start.busy} onClick={() => void start.run(async () => setEnrolment(await call(api.POST('/api/auth/totp/enrol'))))}>
          {t('totpStart')}
        </Button>
        <ErrorText error={start.error} testid="totp-start-error" />
      </div>
    );
  }
  const submit = (e: Event) => {
    e.preventDefault();
    void confirm.run(async () => {
      const r = await call(api.POST('/api/auth/totp/confirm', { body: { code: code.trim() } }));
      replaceToken(r.token, { totpEnrolled: true });
      notify(() => t('totpEnabledDone'));
      props.onEnrolled(r.recoveryCodes);
    });
  };
  return (
    <form class="enrol" data-testid="totp-enrol" onSubmit={submit}>
      <p>{t('totpScan')}</p>
      <img class="enrol__qr" src={enrolment.qrDataUrl} alt={t('totpQrAlt')} width={220} height={220} data-testid="totp-qr" />
      <p>{t('totpManual')}</p>
      <p>
        <code class="enrol__secret" data-testid="totp-secret">
          {enrolment.secret}
        </code>
      </p>
      <p>{t('totpConfirmStep')}</p>
      <Field label={t('totpCodeLabel')}>
        <input
          name="totp-confirm-code"
          data-testid="totp-confirm-code"
          inputMode="numeric"
          autoComplete="one-time-code"
          pattern="\s*[0-9]{6}\s*"
          maxLength={8}
          required
          value={code}
          onInput={(e) => setCode(e.currentTarget.value)}
        />
      </Field>
      <ErrorText error={confirm.error} testid="totp-confirm-error" />
      <Button type="submit" variant="primary" testid="totp-confirm" disabled={confirm.busy}>
        {t('totpConfirm')}
      </Button>
    </form>
  );
}

function DisableForm(props: { onDisabled(): void }) {
  const [value, setValue] = useState('');
  const act = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    const v = value.trim();
    if (!v) return;
    void act.run(async () => {
      const body = /^\d{6}$/.test(v) ? { code: v } : { password: value };
      const r = await call(api.POST('/api/auth/totp/disable', { body }));
      replaceToken(r.token, { totpEnrolled: false });
      notify(() => t('totpDisabledDone'));
      setValue('');
      props.onDisabled();
    });
  };
  return (
    <form class="totp-disable" data-testid="totp-disable" onSubmit={submit}>
      <Field label={t('totpDisableCodeOrPassword')} hint={t('totpDisableHint')}>
        <input name="totp-disable-proof" type="password" data-testid="totp-disable-input" autoComplete="current-password" required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
      </Field>
      <ErrorText error={act.error} testid="totp-disable-error" />
      <Button type="submit" variant="danger" testid="totp-disable-submit" disabled={act.busy}>
        {t('totpDisable')}
      </Button>
    </form>
  );
}

function TotpPanel() {
  const status = useLoad(() => call(api.GET('/api/auth/totp')), []);
  const [codes, setCodes] = useState<string[] | null>(null);
  const s = status.data;
  return (
    <Panel title={t('totpTitle')} testid="totp-panel">
      {codes ? (
        <RecoveryCodes
          codes={codes}
          onDone={() => {
            setCodes(null);
            status.reload();
          }}
        />
      ) : !s ? (
        status.error ? <ErrorText error={status.error} /> : <Loading />
      ) : s.enrolled ? (
        <div data-testid="totp-status" data-enrolled="true">
          <p>
            {t('totpEnrolledSince')}
            <Time at={s.enabledAt} />
          </p>
          <p data-testid="totp-recovery-left">{t('totpRecoveryLeft', { n: s.recoveryCodesLeft })}</p>
          {s.required ? <p class="account__note">{t('totpRequiredOn')}</p> : <DisableForm onDisabled={() => status.reload()} />}
        </div>
      ) : (
        <div data-testid="totp-status" data-enrolled="false">
          <p>{t('totpOff')}</p>
          <EnrolForm onEnrolled={setCodes} />
        </div>
      )}
    </Panel>
  );
}

function PasswordPanel() {
  const [oldPassword, setOld] = useState('');
  const [newPassword, setNew] = useState('');
  const act = useAction();
  const reasons = ((act.error as { code?: string; details?: { reasons?: unknown } } | null)?.code === 'QIAO_PASSWORD_WEAK'
    ? ((act.error as { details?: { reasons?: unknown } }).details?.reasons ?? [])
    : []) as string[];
  const submit = (e: Event) => {
    e.preventDefault();
    void act.run(async () => {
      const r = await call(api.POST('/api/auth/password', { body: { oldPassword, newPassword } }));
      replaceToken(r.token);
      setOld('');
      setNew('');
      notify(() => t('passwordChanged'));
    });
  };
  return (
    <Panel title={t('passwordTitle')} testid="password-panel">
      <form class="password-form" data-testid="password-form" onSubmit={submit}>
        <p class="account__note">{t('passwordHint')}</p>
        <Field label={t('oldPasswordLabel')}>
          <input name="old-password" type="password" data-testid="old-password" autoComplete="current-password" required value={oldPassword} onInput={(e) => setOld(e.currentTarget.value)} />
        </Field>
        <Field label={t('newPasswordLabel')}>
          <input name="new-password" type="password" data-testid="new-password" autoComplete="new-password" required value={newPassword} onInput={(e) => setNew(e.currentTarget.value)} />
        </Field>
        <ErrorText error={act.error} testid="password-error" />
        {reasons.length ? (
          <ul class="password-form__reasons" data-testid="password-reasons">
            {reasons.map((r) => (
              <li key={r} data-reason={r}>
                {tOr(`weak_${r}`, r)}
              </li>
            ))}
          </ul>
        ) : null}
        <Button type="submit" variant="primary" testid="password-submit" disabled={act.busy}>
          {t('passwordChange')}
        </Button>
      </form>
    </Panel>
  );
}

export function AccountSecurityView() {
  return (
    <Page title={t('accountSecurity')} hint={t('accountSecurityHint')} testid="account-security">
      {needsTotp.value ? (
        <p class="account__required" role="alert" data-testid="totp-required-notice">
          {t('totpRequiredNotice')}
        </p>
      ) : null}
      <div class="account__grid">
        <TotpPanel key={user.value?.id} />
        <PasswordPanel />
      </div>
    </Page>
  );
}
