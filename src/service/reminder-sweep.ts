/**
 * The reminder sweep (a ServiceSweep, run on every hub node): makes the automatic work reminders, then
 * fires every pending reminder that fell due into its owner's inbox. Both steps happen once however
 * many nodes sweep at the same moment and across restarts:
 *
 * - making: one INSERT … SELECT per rule with a unique `dedup_key` (ON CONFLICT DO NOTHING), committed
 *   with the archive records of the rows it made. Keys: risk expiry per client and expiry date (the
 *   30-day warning and the day itself are two), a waiting client per conversation and wait start (a
 *   new wait reminds again), a task per task and broker, a follow-up per follow-up and due time.
 *   The owner is the client's primary broker (a task: its broker; a follow-up: its assignee).
 * - firing: the inbox publication (`inbox.<ownerId>`, internal kind `reminder`, key
 *   `reminder-<id>-<snoozeCount>`) commits with a conditional UPDATE pending → fired (StaleState when
 *   it claims nothing: another node fired it, or its owner snoozed or closed it meanwhile, and the
 *   publication rolls back). Fanout then delivers it by email/push per the owner's preferences.
 */
import type { FastifyBaseLogger } from 'fastify';
import { and, asc, eq, lte, sql } from 'drizzle-orm';
import type { Principal } from '../auth/principal.ts';
import { StaleState, mapLimit } from '../advisory/common.ts';
import { ASSESSMENT_VALID_DAYS } from '../domain/suitability.ts';
import { localParts, ymd, addDays } from '../domain/zoned-time.ts';
import { MARKET_TZ } from '../domain/trading-sessions.ts';
import { isQiaoError } from '../errors/codes.ts';
import type { Publisher } from '../hub/publisher.ts';
import type { ArchiveInput, ArchiveRepo } from '../store/archive-repo.ts';
import { rows, type Db } from '../store/db.ts';
import { reminders, tasks, users } from '../store/schema/index.ts';
import { expiresOnOf } from './reminders.ts';
import type { ServiceSweep } from './sweeps.ts';

/**
 * The sweep publishes as this internal principal (never issued as a token): `reminder` is an internal
 * inbox kind, and a sender other than the owner means fanout delivers it to the owner.
 */
export const REMINDER_PRINCIPAL: Principal = { id: 'reminders', role: 'feed', displayName: '工作提醒 Work reminders' };

/** Days ahead a risk assessment's expiry is announced. */
export const RISK_EXPIRY_NOTICE_DAYS = 30;
/** Hours ahead a task or follow-up due time is announced. */
export const DUE_NOTICE_HOURS = 24;
/** Reminders fired per page; a sweep fires pages until none is due (at most FIRE_MAX per run). */
const FIRE_PAGE = 100;
const FIRE_MAX = 2000;
/** Publications in flight at once (the publisher batches them into shared commits). */
const FIRE_CONCURRENCY = 8;

export interface ReminderSweepDeps {
  db: Db;
  publisher: Pick<Publisher, 'publish'>;
  archive: ArchiveRepo;
  logger: FastifyBaseLogger;
  /** Minutes a client may wait for a first reply before the broker is reminded. */
  waitingReminderMin: number;
}

interface MadeRow {
  id: string;
  owner_id: string;
  kind: string;
  client_id: string | null;
  conversation_id: string | null;
  dedup_key: string;
}

/** Local YYYY-MM-DD in Asia/Shanghai, `plusDays` from `now`. */
function shanghaiDate(now: Date, plusDays = 0): string {
  const p = localParts(now, MARKET_TZ);
  const d = addDays(p.year, p.month, p.day, plusDays);
  return ymd(d.year, d.month, d.day);
}

/** A due time as 上海 wall clock in text (reminder titles are stored in Chinese; clients localise by kind). */
const shTime = (col: string) => sql.raw(`to_char(${col} at time zone '${MARKET_TZ}', 'MM-DD HH24:MI')`);
/** An exact, stable text form of a timestamp for dedup keys. */
const keyTime = (col: string) => sql.raw(`to_char(${col} at time zone 'UTC', 'YYYYMMDDHH24MISSUS')`);

export class ReminderSweep implements ServiceSweep {
  readonly name = 'reminders';

  constructor(private readonly d: ReminderSweepDeps) {}

  async run(now: Date): Promise<number> {
    const made = await this.make(now);
    const fired = await this.fire(now);
    return made + fired;
  }

  /** Makes the automatic reminders due at `now`; returns how many were new. */
  async make(now: Date): Promise<number> {
    const at = now.toISOString();
    const today = shanghaiDate(now);
    const horizon = shanghaiDate(now, RISK_EXPIRY_NOTICE_DAYS);
    const waitedSince = new Date(now.getTime() - this.d.waitingReminderMin * 60_000).toISOString();
    const dueBy = new Date(now.getTime() + DUE_NOTICE_HOURS * 3_600_000).toISOString();
    const cols = sql`(owner_id, kind, title, note, client_id, conversation_id, task_id, followup_id, due_at, dedup_key, created_at, updated_at)`;
    const tail = sql`on conflict (dedup_key) do nothing returning id, owner_id, kind, client_id, conversation_id, dedup_key`;
    // Risk assessment expiry (the rule of src/domain/suitability.ts: assessmentExpiresOn), owner the primary broker.
    const expiry = sql`coalesce(u.risk_expires_on, u.risk_assessed_on + ${ASSESSMENT_VALID_DAYS}::int)`;
    const riskFrom = sql`from users u
      join broker_clients bc on bc.client_id = u.id and bc.relation = 'primary'
      join users b on b.id = bc.broker_id and b.active
      where u.role = 'client' and u.active and ${expiry} is not null`;
    const statements = [
      sql`insert into reminders ${cols}
        select bc.broker_id, 'risk_expiry', left(u.display_name || ' 的风险测评将于 ' || to_char(${expiry}, 'YYYY-MM-DD') || ' 到期，请提醒客户重新测评', 200), '',
          u.id, null, null, null, ${at}::timestamptz, 'risk_expiry:' || u.id || ':' || to_char(${expiry}, 'YYYY-MM-DD'), ${at}::timestamptz, ${at}::timestamptz
        ${riskFrom} and ${expiry} > ${today}::date and ${expiry} <= ${horizon}::date
        ${tail}`,
      sql`insert into reminders ${cols}
        select bc.broker_id, 'risk_expiry_today', left(u.display_name || ' 的风险测评今天（' || to_char(${expiry}, 'YYYY-MM-DD') || '）到期', 200), '',
          u.id, null, null, null, ${at}::timestamptz, 'risk_expiry_today:' || u.id || ':' || to_char(${expiry}, 'YYYY-MM-DD'), ${at}::timestamptz, ${at}::timestamptz
        ${riskFrom} and ${expiry} = ${today}::date
        ${tail}`,
      // A client waiting for a first reply; the wait's start is in the key, so a new wait reminds again.
      sql`insert into reminders ${cols}
        select bc.broker_id, 'client_waiting', left(cl.display_name || ' 等待回复已超过 ' || ${this.d.waitingReminderMin}::int || ' 分钟', 200), '',
          c.client_id, c.id, null, null, ${at}::timestamptz, 'client_waiting:' || c.id || ':' || ${keyTime('c.waiting_since')}, ${at}::timestamptz, ${at}::timestamptz
        from conversations c
        join users cl on cl.id = c.client_id
        join broker_clients bc on bc.client_id = c.client_id and bc.relation = 'primary'
        join users b on b.id = bc.broker_id and b.active
        where c.type = 'broker_client' and c.waiting_known and c.waiting_since <= ${waitedSince}::timestamptz
        ${tail}`,
      // A task due within 24 hours that the broker has not done.
      sql`insert into reminders ${cols}
        select a.broker_id, 'task_due', left('任务「' || t.title || '」将于 ' || ${shTime('t.due_at')} || ' 到期', 200), '',
          null, null, t.id, null, ${at}::timestamptz, 'task_due:' || t.id || ':' || a.broker_id || ':' || ${keyTime('t.due_at')}, ${at}::timestamptz, ${at}::timestamptz
        from task_assignments a
        join tasks t on t.id = a.task_id
        join users b on b.id = a.broker_id and b.active
        where a.state <> 'done' and t.due_at > ${at}::timestamptz and t.due_at <= ${dueBy}::timestamptz
        ${tail}`,
      // An open follow-up (客户回访) due within 24 hours, for its assignee.
      sql`insert into reminders ${cols}
        select f.assignee_id, 'followup_due', left('客户回访（' || cl.display_name || '）将于 ' || ${shTime('f.due_at')} || ' 到期', 200), '',
          f.client_id, null, null, f.id, ${at}::timestamptz, 'followup_due:' || f.id || ':' || ${keyTime('f.due_at')}, ${at}::timestamptz, ${at}::timestamptz
        from followups f
        join users cl on cl.id = f.client_id
        join users b on b.id = f.assignee_id and b.active
        where f.state = 'open' and f.due_at > ${at}::timestamptz and f.due_at <= ${dueBy}::timestamptz
        ${tail}`,
    ];
    let made = 0;
    for (const stmt of statements) {
      made += await this.d.db.transaction(async (tx) => {
        const got = await rows<MadeRow>(tx, stmt);
        if (got.length) {
          await this.d.archive.appendMany(
            got.map(
              (r): ArchiveInput => ({
                kind: 'reminder.created',
                actorId: REMINDER_PRINCIPAL.id,
                subjects: [r.owner_id, ...(r.client_id ? [r.client_id] : [])],
                conversationId: r.conversation_id,
                retentionClass: 'service-reminders',
                body: { reminderId: r.id, ownerId: r.owner_id, kind: r.kind, dedupKey: r.dedup_key, dueAt: at, at },
                recordedAt: now,
              }),
            ),
            tx,
          );
        }
        return got.length;
      });
    }
    return made;
  }

  /** Fires the pending reminders due at `now`; returns how many this node fired. */
  async fire(now: Date): Promise<number> {
    let fired = 0;
    let seen = 0;
    // Rows this run could not fire (a bad row): skipped for the rest of the run, retried next run.
    const failed = new Set<string>();
    while (seen < FIRE_MAX) {
      const page = (
        await this.d.db
          .select({ r: reminders, client: users.displayName, task: tasks.title })
          .from(reminders)
          .leftJoin(users, eq(users.id, reminders.clientId))
          .leftJoin(tasks, eq(tasks.id, reminders.taskId))
          .where(and(eq(reminders.state, 'pending'), lte(reminders.dueAt, now)))
          .orderBy(asc(reminders.dueAt), asc(reminders.id))
          .limit(FIRE_PAGE + failed.size)
      ).filter((x) => !failed.has(x.r.id));
      if (!page.length) break;
      seen += page.length;
      const results = await mapLimit(page, FIRE_CONCURRENCY, async (x) => {
        try {
          return (await this.fireOne(x.r, { client: x.client, task: x.task }, now)) ? 1 : 0;
        } catch (err) {
          failed.add(x.r.id);
          this.d.logger.warn({ err, reminderId: x.r.id }, 'reminder not fired (retried next sweep)');
          return 0;
        }
      });
      fired += results.reduce<number>((a, b) => a + b, 0);
      if (page.length < FIRE_PAGE) break;
    }
    return fired;
  }

  /** Publishes one reminder with its claim; false when another node or its owner got there first. */
  private async fireOne(r: typeof reminders.$inferSelect, names: { client: string | null; task: string | null }, now: Date): Promise<boolean> {
    let claimed = false;
    try {
      const out = await this.d.publisher.publish(
        REMINDER_PRINCIPAL,
        {
          channel: `inbox.${r.ownerId}`,
          kind: 'reminder',
          payload: reminderPayload(r, names),
          idempotencyKey: `reminder-${r.id}-${r.snoozeCount}`,
          inTx: async (tx, pub) => {
            const [u] = await tx
              .update(reminders)
              .set({ state: 'fired', firedAt: now, messageId: pub.id, updatedAt: now })
              .where(and(eq(reminders.id, r.id), eq(reminders.state, 'pending'), eq(reminders.snoozeCount, r.snoozeCount), lte(reminders.dueAt, now)))
              .returning({ id: reminders.id });
            if (!u) throw new StaleState();
            claimed = true;
            return [
              {
                kind: 'reminder.state',
                actorId: REMINDER_PRINCIPAL.id,
                subjects: [r.ownerId, ...(r.clientId ? [r.clientId] : [])],
                conversationId: r.conversationId,
                retentionClass: 'service-reminders',
                body: { reminderId: r.id, ownerId: r.ownerId, action: 'fire', from: 'pending', to: 'fired', dueAt: r.dueAt.toISOString(), snoozeCount: r.snoozeCount, messageId: pub.id, at: now.toISOString() },
                recordedAt: now,
              },
            ];
          },
        },
        { trusted: true },
      );
      return claimed && !out.duplicate;
    } catch (e) {
      if (e instanceof StaleState || (isQiaoError(e) && e.code === 'QIAO_CONFLICT')) return false;
      throw e;
    }
  }
}

/** The inbox payload of a reminder (channels/payloads.ts ReminderPayload): ids, names and the due time. */
export function reminderPayload(r: typeof reminders.$inferSelect, names: { client: string | null; task: string | null }): Record<string, unknown> {
  const p: Record<string, unknown> = {
    reminderId: r.id,
    kind: r.kind,
    title: r.title.slice(0, 200),
    note: r.note.slice(0, 2000),
    dueAt: r.dueAt.toISOString(),
    snoozeCount: r.snoozeCount,
    url: '/reminders',
  };
  if (r.clientId) {
    p.clientId = r.clientId;
    if (names.client) p.clientName = names.client.slice(0, 100);
  }
  if (r.conversationId) p.conversationId = r.conversationId;
  if (r.taskId) {
    p.taskId = r.taskId;
    if (names.task) p.taskTitle = names.task.slice(0, 200);
  }
  if (r.followupId) p.followupId = r.followupId;
  if (r.complaintId) p.complaintId = r.complaintId;
  const expiresOn = expiresOnOf(r);
  if (expiresOn) p.expiresOn = expiresOn;
  return p;
}
