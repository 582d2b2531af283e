/**
 * Satisfaction surveys (满意度调查): after a broker marks a broker–client conversation resolved, or
 * when one has been quiet for `config.service.surveyQuietH` hours after the broker side's last chat,
 * the client gets a short survey (1–5 and a comment) in its inbox.
 *
 * A survey is a `surveys` row and its inbox publication (`survey`) in one transaction. At most one per
 * conversation and offset (unique index) and per 7 days (checked under a per-conversation advisory
 * lock in that transaction), so sweeps on several nodes and repeated resolves send it once. The answer
 * is a conditional UPDATE (`answered_at is null`): of two concurrent answers exactly one wins.
 * Broker, team, branch, score and answered_at are kept for the service view (per-broker results).
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import { DAY_MS, StaleState, assertStorable, lockKey } from '../advisory/common.ts';
import { conversationAccess } from '../domain/conversation-access.ts';
import { QiaoError } from '../errors/codes.ts';
import type { Publisher } from '../hub/publisher.ts';
import type { ArchiveRepo } from '../store/archive-repo.ts';
import type { ConversationsRepo } from '../store/conversations-repo.ts';
import { rows, type Db } from '../store/db.ts';
import type { ServiceSweep } from './sweeps.ts';

/** Sender of survey notices (not a user). */
export const SURVEY_PRINCIPAL: Principal = { id: 'service-surveys', role: 'feed', displayName: '满意度调查 Surveys' };
/** At most one survey per conversation in this time. */
export const SURVEY_GAP_MS = 7 * DAY_MS;
/** Conversations quiet for longer than this are not surveyed any more (a first deployment does not survey old ones). */
const QUIET_HORIZON_MS = 14 * DAY_MS;
const BATCH = 200;

export interface SurveyView {
  id: string;
  conversationId: string;
  brokerId: string;
  brokerName: string;
  trigger: 'quiet' | 'resolved';
  sentAt: string;
  score: number | null;
  comment: string | null;
  answeredAt: string | null;
}

export interface SurveysDeps {
  db: Db;
  publisher: Publisher;
  archive: ArchiveRepo;
  conversations: ConversationsRepo;
  logger: FastifyBaseLogger;
  quietHours: number;
}

const isUuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

function view(r: Record<string, unknown>): SurveyView {
  return {
    id: String(r.id),
    conversationId: String(r.conversation_id),
    brokerId: String(r.broker_id),
    brokerName: String(r.broker_name ?? ''),
    trigger: r.trigger as SurveyView['trigger'],
    sentAt: new Date(r.sent_at as string).toISOString(),
    score: r.score == null ? null : Number(r.score),
    comment: r.comment == null ? null : String(r.comment),
    answeredAt: r.answered_at == null ? null : new Date(r.answered_at as string).toISOString(),
  };
}

export class SurveysService {
  constructor(private readonly d: SurveysDeps) {}

  /** A broker with write access marks a broker–client conversation resolved; the client gets a survey (unless one went out in the last 7 days). */
  async resolve(p: Principal, conversationId: string, now = new Date()): Promise<{ conversationId: string; resolvedAt: string; surveyId: string | null }> {
    const f = await this.d.conversations.facts(conversationId, p.id);
    if (!f) throw new QiaoError('QIAO_CONVERSATION_NOT_FOUND');
    if (p.role !== 'broker' || conversationAccess(p, f) !== 'write') throw new QiaoError('QIAO_FORBIDDEN', 'A broker with write access marks a conversation resolved');
    if (f.type !== 'broker_client' || !f.clientId) throw new QiaoError('QIAO_CONVERSATION_INVALID', 'Only broker–client conversations are resolved');
    const id = f.row.id;
    await this.d.db.execute(sql`update conversations set resolved_at = ${now.toISOString()}::timestamptz where id = ${id}`);
    const offset = await this.d.conversations.topOffset(id);
    const surveyId = await this.send({ conversationId: id, clientId: f.clientId, brokerId: p.id, trigger: 'resolved', offset }, now);
    return { conversationId: id, resolvedAt: now.toISOString(), surveyId };
  }

  /**
   * Sends one survey (row and inbox notice in one transaction); null when this conversation already
   * has one at this offset or within the last 7 days.
   */
  async send(s: { conversationId: string; clientId: string; brokerId: string; trigger: 'quiet' | 'resolved'; offset: number }, now: Date): Promise<string | null> {
    const [b] = await rows<{ name: string; team_id: string | null; branch_id: string | null }>(
      this.d.db,
      sql`select display_name as name, team_id::text, branch_id::text from users where id = ${s.brokerId}`,
    );
    if (!b) return null;
    const id = randomUUID();
    try {
      const out = await this.d.publisher.publish(
        SURVEY_PRINCIPAL,
        {
          channel: `inbox.${s.clientId}`,
          kind: 'survey',
          payload: { surveyId: id, brokerName: b.name.slice(0, 100), conversationId: s.conversationId },
          idempotencyKey: `survey:${s.conversationId}:${s.offset}`,
          inTx: async (tx, pub) => {
            await lockKey(tx, `survey:${s.conversationId}`);
            const since = new Date(now.getTime() - SURVEY_GAP_MS).toISOString();
            const r = await rows(
              tx,
              sql`insert into surveys (id, conversation_id, client_id, broker_id, team_id, branch_id, trigger, at_offset, sent_at, message_id)
                  select ${id}, ${s.conversationId}, ${s.clientId}, ${s.brokerId}, ${b.team_id}, ${b.branch_id}, ${s.trigger}, ${s.offset}, ${now.toISOString()}::timestamptz, ${pub.id}
                   where not exists (select 1 from surveys x where x.conversation_id = ${s.conversationId} and x.sent_at > ${since}::timestamptz)
                  on conflict do nothing returning id`,
            );
            if (!r.length) throw new StaleState();
          },
        },
        { trusted: true },
      );
      return out.duplicate ? null : id;
    } catch (e) {
      if (e instanceof StaleState) return null;
      throw e;
    }
  }

  /** The client the survey was sent to answers it, once. */
  async answer(p: Principal, surveyId: string, score: number, comment: string, now = new Date()): Promise<SurveyView> {
    assertStorable({ comment });
    const [s] = isUuid(surveyId) ? await rows<Record<string, unknown>>(this.d.db, sql`select * from surveys where id = ${surveyId}`) : [];
    if (!s) throw new QiaoError('QIAO_SURVEY_NOT_FOUND');
    if (p.id !== String(s.client_id)) throw new QiaoError('QIAO_SURVEY_FORBIDDEN');
    if (!Number.isInteger(score) || score < 1 || score > 5) throw new QiaoError('QIAO_BAD_REQUEST', 'score: 1–5');
    await this.d.db.transaction(async (tx) => {
      const won = await rows(
        tx,
        sql`update surveys set score = ${score}, comment = ${comment}, answered_at = ${now.toISOString()}::timestamptz
             where id = ${surveyId} and answered_at is null returning id`,
      );
      if (!won.length) throw new QiaoError('QIAO_SURVEY_ANSWERED');
      await this.d.archive.append(
        {
          kind: 'survey.answered',
          actorId: p.id,
          subjects: [p.id, String(s.broker_id)],
          conversationId: String(s.conversation_id),
          retentionClass: 'client-communications',
          body: { surveyId, conversationId: String(s.conversation_id), brokerId: String(s.broker_id), score, comment, trigger: s.trigger },
          text: comment,
          recordedAt: now,
        },
        tx,
      );
    });
    return (await this.mineRows(p.id, surveyId))[0];
  }

  /** A client's surveys, newest first (pending and answered). */
  async mine(p: Principal): Promise<SurveyView[]> {
    if (p.role !== 'client') throw new QiaoError('QIAO_FORBIDDEN', 'Surveys are answered by clients');
    return this.mineRows(p.id);
  }

  private async mineRows(clientId: string, id?: string): Promise<SurveyView[]> {
    const r = await rows<Record<string, unknown>>(
      this.d.db,
      sql`select s.*, u.display_name as broker_name from surveys s join users u on u.id = s.broker_id
           where s.client_id = ${clientId} ${id ? sql`and s.id = ${id}` : sql``}
           order by s.sent_at desc, s.id limit 200`,
    );
    return r.map(view);
  }

  /**
   * Broker–client conversations whose last chat is from the broker side (the client is not waiting)
   * and older than the quiet time (but not older than two weeks): their client gets a survey.
   * Read from the message log, which is the source of `conversations.last_chat_at`.
   */
  sweep(): ServiceSweep {
    return {
      name: 'surveys',
      run: async (now: Date) => {
        const quietBefore = new Date(now.getTime() - this.d.quietHours * 3600_000).toISOString();
        const horizon = new Date(now.getTime() - this.d.quietHours * 3600_000 - QUIET_HORIZON_MS).toISOString();
        const since = new Date(now.getTime() - SURVEY_GAP_MS).toISOString();
        const due = await rows<{ id: string; client_id: string; broker_id: string; sender_id: string; offset: number; sender_is_broker: boolean }>(
          this.d.db,
          sql`select c.id::text, c.client_id::text, c.broker_id::text, m.sender_id, m."offset"::int as offset,
                     exists (select 1 from users u where u.id::text = m.sender_id and u.role = 'broker') as sender_is_broker
                from conversations c
                join lateral (select x.sender_id, x."offset", x.created_at from messages x
                               where x.channel = 'conv.' || c.id::text and x.kind = 'chat' order by x."offset" desc limit 1) m on true
               where c.type = 'broker_client' and c.client_id is not null
                 and m.created_at < ${quietBefore}::timestamptz and m.created_at > ${horizon}::timestamptz
                 and m.sender_id <> c.client_id::text
                 and not exists (select 1 from surveys s where s.conversation_id = c.id and (s.sent_at > ${since}::timestamptz or s.at_offset = m."offset"))
               limit ${BATCH}`,
        );
        let n = 0;
        for (const c of due) {
          const offset = await this.d.conversations.topOffset(c.id);
          try {
            const id = await this.send({ conversationId: c.id, clientId: c.client_id, brokerId: c.sender_is_broker ? c.sender_id : c.broker_id, trigger: 'quiet', offset }, now);
            if (id) n++;
          } catch (err) {
            this.d.logger.warn({ err, conversation: c.id }, 'sending a satisfaction survey failed (retried next sweep)');
          }
        }
        return n;
      },
    };
  }
}
