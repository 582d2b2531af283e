/**
 * What a send said back: the refusal by its code (and, for DLP, the blocked terms), or the DLP warn
 * terms of a message that was sent. Used by the composer, message edits and team notices.
 */
import { t } from '../../../i18n/i18n.ts';
import { ErrorText } from '../../../ui/ui.tsx';
import { blockedTerms } from './send.ts';

export function SendError(props: { error: unknown; testid?: string }) {
  if (!props.error) return null;
  const terms = blockedTerms(props.error);
  const testid = props.testid ?? 'conv-error';
  return (
    <div class="conv-feedback">
      <ErrorText error={props.error} testid={testid} />
      {terms.length ? (
        <p class="conv-feedback__terms" data-testid={`${testid}-terms`} data-code="QIAO_DLP_BLOCKED">
          {t('conv_dlpBlockedTerms', { terms: terms.join('、') })}
        </p>
      ) : null}
    </div>
  );
}

export function DlpWarning(props: { terms: string[]; testid?: string }) {
  if (!props.terms.length) return null;
  return (
    <p class="conv-feedback__warn" role="status" data-testid={props.testid ?? 'conv-dlp-warn'}>
      {t('conv_dlpWarn', { terms: props.terms.join('、') })}
    </p>
  );
}
