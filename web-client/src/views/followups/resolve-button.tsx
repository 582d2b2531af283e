/** The broker marks a client conversation resolved (POST /api/conversations/:id/resolve); the client gets a satisfaction survey. */
import { api, call } from '../../api/api.ts';
import { notify } from '../../app/session.ts';
import { t } from '../../i18n/i18n.ts';
import { Button, ErrorText } from '../../ui/ui.tsx';
import { useAction } from '../../ui/use-action.ts';

export function ResolveButton(props: { conversationId: string }) {
  const act = useAction();
  return (
    <span class="fu-resolve">
      <Button
        variant="ghost"
        testid="conv-resolve"
        disabled={act.busy}
        onClick={() =>
          void act.run(async () => {
            const r = await call(api.POST('/api/conversations/{id}/resolve', { params: { path: { id: props.conversationId } }, body: {} }));
            notify(() => t(r.surveyId ? 'fu_resolved' : 'fu_resolvedNoSurvey'));
          })
        }
      >
        {t('fu_resolve')}
      </Button>
      <ErrorText error={act.error} testid="conv-resolve-error" />
    </span>
  );
}
