/**
 * The research desk's view of its publications: notes on research.* channels with how many recipients
 * fanout gave each one and how many of them have read it, and who a research channel reaches.
 *
 * Counts come from the delivery rows fanout writes (workers/fanout.worker.ts): every recipient it routes
 * gets exactly one `inbox` row per message (delivered, held or suppressed), which turns `read` when the
 * recipient reads or archives the inbox item (InboxRepo.setState). So recipients = inbox rows, read =
 * those with status 'read' — one aggregate over the deliveries unique index, in the same query as the notes.
 */
import { sql } from 'drizzle-orm';
import { rows, type Db } from './db.ts';

export interface ResearchNoteRow {
  id: string;
  channel: string;
  authorId: string;
  authorName: string | null;
  payload: unknown;
  publishedAt: Date;
  recipients: number;
  read: number;
}

export interface AudienceRow {
  role: string;
  tier: 'general' | 'hnw' | 'institutional' | null;
  subscribers: number;
}

export class ResearchRepo {
  constructor(private readonly db: Db) {}

  /**
   * Notes on research channels, newest first, with their delivery counts. `authorId`: only that
   * author's; `firmId`: only authors of that firm. `before`: publishedAt of the last note of the previous page.
   */
  async notes(opts: { authorId?: string; firmId?: string; limit: number; before?: Date }): Promise<ResearchNoteRow[]> {
    const r = await rows<{
      id: string;
      channel: string;
      sender_id: string;
      display_name: string | null;
      payload: unknown;
      created_at: Date | string;
      recipients: number | string;
      read: number | string;
    }>(
      this.db,
      sql`
        with n as (
          select m.id, m.channel, m.sender_id, m.payload, m.created_at, u.display_name
          from messages m
          left join users u on u.id::text = m.sender_id
          where m.channel like 'research.%'
            ${opts.authorId ? sql`and m.sender_id = ${opts.authorId}` : sql``}
            ${opts.firmId ? sql`and u.firm_id = ${opts.firmId}::uuid` : sql``}
            ${opts.before ? sql`and m.created_at < ${opts.before.toISOString()}::timestamptz` : sql``}
          order by m.created_at desc, m.id desc
          limit ${opts.limit}
        )
        select n.id, n.channel, n.sender_id, n.display_name, n.payload, n.created_at,
               count(d.user_id)::int as recipients,
               (count(d.user_id) filter (where d.status = 'read'))::int as read
        from n
        left join deliveries d on d.message_id = n.id and d.transport = 'inbox'
        group by n.id, n.channel, n.sender_id, n.display_name, n.payload, n.created_at
        order by n.created_at desc, n.id desc`,
    );
    return r.map((x) => ({
      id: x.id,
      channel: x.channel,
      authorId: x.sender_id,
      authorName: x.display_name,
      payload: x.payload,
      publishedAt: x.created_at instanceof Date ? x.created_at : new Date(x.created_at),
      recipients: Number(x.recipients),
      read: Number(x.read),
    }));
  }

  /** Active subscribers of a channel by role and tier (the recipients fanout reads for research.*). */
  async audience(channel: string): Promise<AudienceRow[]> {
    const r = await rows<{ role: string; tier: AudienceRow['tier']; n: number | string }>(
      this.db,
      sql`
        select u.role, u.tier, count(*)::int as n
        from subscriptions s join users u on u.id = s.user_id
        where s.channel = ${channel} and u.active
        group by u.role, u.tier
        order by u.role, u.tier`,
    );
    return r.map((x) => ({ role: x.role, tier: x.tier, subscribers: Number(x.n) }));
  }
}
