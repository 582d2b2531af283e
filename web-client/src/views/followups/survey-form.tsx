/**
 * A satisfaction survey answered inline from its inbox item: 1–5 and an optional comment, once
 * (POST /api/surveys/:id/answer). An answered survey shows the score and thanks; a second answer
 * (another device) shows QIAO_SURVEY_ANSWERED.
 */
import { useState } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { t } from '../../i18n/i18n.ts';
import { Button, ErrorText, Field, Loading } from '../../ui/ui.tsx';
import { useAction } from '../../ui/use-action.ts';
import { useLoad } from '../../ui/use-load.ts';

export function SurveyForm(props: { surveyId: string; brokerName: string }) {
  const mine = useLoad(async () => ((await call(api.GET('/api/surveys/mine'))).surveys ?? []).find((s) => s.id === props.surveyId) ?? null, [props.surveyId]);
  const [score, setScore] = useState(0);
  const [comment, setComment] = useState('');
  const act = useAction();
  const s = mine.data;
  if (mine.loading && mine.data === undefined) return <Loading />;
  if (s?.answeredAt) {
    return (
      <div class="sv-done" data-testid="survey-done" role="status">
        <p class="sv-thanks">{t('sv_thanks')}</p>
        <p data-testid="survey-score">{t('sv_yourScore', { n: s.score ?? 0 })}</p>
        {s.comment ? <p class="sv-comment">{s.comment}</p> : null}
      </div>
    );
  }
  const submit = (e: Event) => {
    e.preventDefault();
    void act.run(async () => {
      if (score < 1) throw { message: t('sv_pickScore') };
      const r = await call(api.POST('/api/surveys/{id}/answer', { params: { path: { id: props.surveyId } }, body: { score, comment: comment.trim() } }));
      if (r.survey) mine.set(r.survey);
    });
  };
  return (
    <form class="sv-form" data-testid="survey-form" onSubmit={submit}>
      <h3 class="sv-title">{t('sv_title', { broker: props.brokerName })}</h3>
      <p class="sv-hint">{t('sv_hint')}</p>
      <fieldset class="sv-scores">
        <legend>{t('sv_score')}</legend>
        {[1, 2, 3, 4, 5].map((n) => (
          <label key={n} class={`sv-score${score === n ? ' sv-score--on' : ''}`}>
            <input type="radio" name={`sv-${props.surveyId}`} value={n} data-testid={`survey-score-${n}`} checked={score === n} onChange={() => setScore(n)} />
            <span aria-hidden="true">{'★'.repeat(n)}</span>
            <span class="sr-only">{t('sv_star', { n })}</span>
          </label>
        ))}
      </fieldset>
      <Field label={t('sv_comment')}>
        <textarea data-testid="survey-comment" rows={3} maxLength={500} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
      </Field>
      <ErrorText error={act.error ?? mine.error} testid="survey-error" />
      <Button variant="primary" type="submit" testid="survey-submit" disabled={act.busy}>
        {t('sv_submit')}
      </Button>
    </form>
  );
}
