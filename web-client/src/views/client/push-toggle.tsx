/** The browser-notifications switch of this browser (state and actions in push.ts). */
import { useEffect } from 'preact/hooks';
import { t } from '../../i18n/i18n.ts';
import { Button, ErrorText } from '../../ui/ui.tsx';
import { checkPush, disablePush, enablePush, pushError, pushStatus } from './push.ts';

const TEXT = {
  unknown: 'pushEnable',
  off: 'pushEnable',
  on: 'pushDisable',
  busy: 'pushBusy',
  blocked: 'pushBlocked',
  unsupported: 'pushUnsupported',
  error: 'pushRetry',
} as const;

const STATE = {
  unknown: 'pushStateOff',
  off: 'pushStateOff',
  on: 'pushStateOn',
  busy: 'pushStateBusy',
  blocked: 'pushBlocked',
  unsupported: 'pushUnsupported',
  error: 'pushStateError',
} as const;

export function PushToggle() {
  useEffect(() => void checkPush(), []);
  const s = pushStatus.value;
  return (
    <div class="push-toggle">
      <p class="push-toggle__state" data-testid="push-state" data-state={s}>
        {t(STATE[s])}
      </p>
      <Button
        variant={s === 'on' ? 'plain' : 'primary'}
        testid="push-toggle"
        data-state={s}
        disabled={s === 'busy' || s === 'unsupported' || s === 'blocked'}
        onClick={() => void (s === 'on' ? disablePush() : enablePush())}
      >
        {t(TEXT[s])}
      </Button>
      <p class="field__hint">{t('pushHint')}</p>
      <ErrorText error={pushError.value} testid="push-error" />
    </div>
  );
}
