/**
 * One account event as a list entry, from the structured fields of its payload (channels/account-payloads.ts)
 * in the current language — the Chinese title/body stored with it are for inbox, email and push.
 * Margin calls and liquidation warnings (severity critical) are highlighted and labelled 紧急.
 */
import type { PublicationFrame } from '../../../../src/gateway/protocol.ts';
import { t, tOr } from '../../i18n/i18n.ts';
import { formatCny, formatQty, formatRatio } from '../../lib/money.ts';
import { formatDate, formatDateTime } from '../../lib/time.ts';
import { Time } from '../../ui/ui.tsx';
import { nameOf } from '../client/securities.ts';

type Obj = Record<string, unknown>;
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** What kind of event this is, e.g. 成交回报 / 资金转入. */
export function eventLabel(pub: Pick<PublicationFrame, 'kind' | 'payload'>): string {
  const pl = (pub.payload ?? {}) as Obj;
  if (pub.kind === 'order') return tOr(`acctKind_${String(pl.status)}`, str(pl.title) ?? pub.kind);
  if (pub.kind === 'funds') return t(pl.direction === 'out' ? 'acctKind_fundsOut' : 'acctKind_fundsIn');
  return tOr(`acctKind_${pub.kind}`, str(pl.title) ?? pub.kind);
}

const caType = (type: unknown) => tOr(`acctCaType_${String(type).replace(/-/g, '_')}`, String(type));
const dateName = (name: string) => tOr(`acctDate_${name}`, name);

function facts(pub: PublicationFrame): string[] {
  const pl = (pub.payload ?? {}) as Obj;
  const out: string[] = [];
  switch (pub.kind) {
    case 'order': {
      const side = t(pl.side === 'sell' ? 'acctSide_sell' : 'acctSide_buy');
      const filled = num(pl.filledQty);
      const price = num(pl.price);
      if (filled !== undefined && price !== undefined) {
        out.push(t('acctOrderFill', { side, qty: formatQty(filled), price: formatCny(price), orderQty: formatQty(num(pl.qty) ?? filled) }));
      } else {
        out.push(t('acctOrder', { side, qty: formatQty(num(pl.qty) ?? 0) }));
        if (price !== undefined) out.push(t('acctOrderPrice', { price: formatCny(price) }));
      }
      if (str(pl.orderId)) out.push(t('acctOrderId', { id: String(pl.orderId) }));
      if (str(pl.reason)) out.push(t('acctReason', { reason: String(pl.reason) }));
      break;
    }
    case 'margin-call':
      out.push(t('acctAmount', { amount: formatCny(num(pl.amount) ?? 0) }));
      if (str(pl.deadline)) out.push(t('acctDeadline', { time: formatDateTime(String(pl.deadline)) }));
      out.push(t('acctMarginAction'));
      break;
    case 'liquidation-warning':
      if (num(pl.maintenanceRatio) !== undefined) out.push(t('acctMaintenance', { ratio: formatRatio(num(pl.maintenanceRatio)!) }));
      if (str(pl.deadline)) out.push(t('acctDeadline', { time: formatDateTime(String(pl.deadline)) }));
      break;
    case 'funds':
      out.push(t('acctAmount', { amount: formatCny(num(pl.amount) ?? 0) }));
      if (num(pl.balance) !== undefined) out.push(t('acctBalance', { amount: formatCny(num(pl.balance)!) }));
      break;
    case 'corporate-action': {
      out.push(caType(pl.type));
      const dates = (pl.dates ?? {}) as Record<string, string>;
      for (const [k, v] of Object.entries(dates)) out.push(t('acctActionDate', { name: dateName(k), date: formatDate(`${v}T12:00:00+08:00`) }));
      if (pl.reason === 'holder' || pl.reason === 'watcher') out.push(t(pl.reason === 'holder' ? 'acctReasonHolder' : 'acctReasonWatcher'));
      break;
    }
    case 'corporate-action-reminder':
      out.push(caType(pl.type));
      out.push(t('acctReminderStep', { step: String(pl.step ?? ''), name: dateName(String(pl.deadlineName ?? '')), date: formatDate(`${String(pl.deadline)}T12:00:00+08:00`) }));
      break;
    default:
      if (str(pl.body)) out.push(String(pl.body));
  }
  return out;
}

export function AccountEventItem(props: { pub: PublicationFrame }) {
  const { pub } = props;
  const pl = (pub.payload ?? {}) as Obj;
  const critical = pl.severity === 'critical';
  const symbol = str(pl.symbol);
  const name = symbol ? nameOf(symbol) ?? str(pl.name) : undefined;
  return (
    <li
      class={`acct-ev acct-ev--${critical ? 'critical' : pl.severity === 'warning' ? 'warning' : 'info'}`}
      data-testid="acct-event"
      data-kind={pub.kind}
      data-critical={critical ? 'true' : 'false'}
      data-offset={String(pub.offset)}
    >
      <div class="acct-ev__head">
        <strong class="acct-ev__kind" data-testid="acct-kind">
          {eventLabel(pub)}
        </strong>
        {critical ? (
          <span class="badge badge--critical" data-testid="acct-critical">
            {t('acctCritical')}
          </span>
        ) : null}
        {symbol ? (
          <span class="acct-ev__security" data-testid="acct-security">
            {symbol}
            {name ? ` ${name}` : ''}
          </span>
        ) : null}
        <span class="acct-ev__time">
          <Time at={str(pl.time) ?? pub.time} testid="acct-time" />
        </span>
      </div>
      <ul class="acct-ev__facts" data-testid="acct-facts">
        {facts(pub).map((f, i) => (
          <li key={i}>{f}</li>
        ))}
      </ul>
    </li>
  );
}
