/** How complaints and their events are read back: one row shape for lists and the detail view. */
import { and, asc, desc, eq, sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Db } from '../store/db.ts';
import { branches, complaintEvents, complaints, users } from '../store/schema/index.ts';
import type { ComplaintRow, Sight } from './complaint-access.ts';

export const COMPLAINT_CATEGORIES = ['service', 'advice', 'trading', 'fees', 'system', 'privacy', 'other'] as const;
export type ComplaintCategory = (typeof COMPLAINT_CATEGORIES)[number];
export const COMPLAINT_STATUSES = ['open', 'acknowledged', 'resolved', 'rejected'] as const;
export type ComplaintStatus = (typeof COMPLAINT_STATUSES)[number];

export interface ComplaintEventView {
  id: string;
  action: string;
  actorId: string | null;
  actorName: string | null;
  note: string | null;
  clientVisible: boolean;
  at: string;
}

export interface ComplaintView {
  id: string;
  branchId: string | null;
  branchName: string | null;
  clientId: string;
  clientName: string;
  /** Null for the client (whom it concerns is for the firm to judge). */
  brokerId: string | null;
  brokerName: string | null;
  conversationId: string | null;
  category: ComplaintCategory;
  text: string;
  status: ComplaintStatus;
  assigneeId: string | null;
  assigneeName: string | null;
  ackDueAt: string;
  resolveDueAt: string;
  acknowledgedAt: string | null;
  closedAt: string | null;
  reply: string | null;
  escalationLevel: number;
  /** Which deadline has passed unmet at the time of reading: `ack` (not acknowledged), `resolve` (not closed), or null. */
  overdue: 'ack' | 'resolve' | null;
  createdAt: string;
  updatedAt: string;
}

export interface ComplaintDetail extends ComplaintView {
  events: ComplaintEventView[];
  /** What the caller may do now (the web client shows these buttons). */
  can: { acknowledge: boolean; assign: boolean; note: boolean; resolve: boolean };
}

export function overdueOf(c: Pick<ComplaintRow, 'status' | 'ackDueAt' | 'resolveDueAt'>, now: Date): 'ack' | 'resolve' | null {
  const closed = c.status === 'resolved' || c.status === 'rejected';
  if (!closed && c.resolveDueAt.getTime() < now.getTime()) return 'resolve';
  if (c.status === 'open' && c.ackDueAt.getTime() < now.getTime()) return 'ack';
  return null;
}

/** Overdue at `now` as a WHERE condition (the same rule as `overdueOf`). */
export function overdueWhere(now: Date): SQL {
  const at = now.toISOString();
  return sql`((${complaints.status} = 'open' and ${complaints.ackDueAt} < ${at}::timestamptz) or (${complaints.status} in ('open', 'acknowledged') and ${complaints.resolveDueAt} < ${at}::timestamptz))`;
}

const client = alias(users, 'c_client');
const broker = alias(users, 'c_broker');
const assignee = alias(users, 'c_assignee');

/** Complaints with the names the views show, newest first. */
export async function selectComplaints(db: Db, where: SQL | undefined, limit: number): Promise<Array<{ c: ComplaintRow; names: { branch: string | null; client: string; broker: string | null; assignee: string | null } }>> {
  const rows = await db
    .select({ c: complaints, branch: branches.name, client: client.displayName, broker: broker.displayName, assignee: assignee.displayName })
    .from(complaints)
    .innerJoin(client, eq(client.id, complaints.clientId))
    .leftJoin(branches, eq(branches.id, complaints.branchId))
    .leftJoin(broker, eq(broker.id, complaints.brokerId))
    .leftJoin(assignee, eq(assignee.id, complaints.assigneeId))
    .where(where)
    .orderBy(desc(complaints.createdAt), desc(complaints.id))
    .limit(limit);
  return rows.map((r) => ({ c: r.c, names: { branch: r.branch, client: r.client, broker: r.broker, assignee: r.assignee } }));
}

export function complaintView(r: Awaited<ReturnType<typeof selectComplaints>>[number], sight: Sight, now: Date): ComplaintView {
  const { c, names } = r;
  const staff = sight !== 'client';
  return {
    id: c.id,
    branchId: c.branchId,
    branchName: names.branch,
    clientId: c.clientId,
    clientName: names.client,
    brokerId: staff ? c.brokerId : null,
    brokerName: staff ? names.broker : null,
    conversationId: c.conversationId,
    category: c.category,
    text: c.text,
    status: c.status,
    assigneeId: staff ? c.assigneeId : null,
    assigneeName: staff ? names.assignee : null,
    ackDueAt: c.ackDueAt.toISOString(),
    resolveDueAt: c.resolveDueAt.toISOString(),
    acknowledgedAt: c.acknowledgedAt?.toISOString() ?? null,
    closedAt: c.closedAt?.toISOString() ?? null,
    reply: c.reply,
    escalationLevel: staff ? c.escalationLevel : 0,
    overdue: overdueOf(c, now),
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

/** A complaint's events in order; the client sees only the client-visible ones. */
export async function eventsOf(db: Db, complaintId: string, sight: Sight): Promise<ComplaintEventView[]> {
  const rows = await db
    .select({ e: complaintEvents, actorName: users.displayName })
    .from(complaintEvents)
    .leftJoin(users, eq(users.id, complaintEvents.actorId))
    .where(and(eq(complaintEvents.complaintId, complaintId), sight === 'client' ? eq(complaintEvents.clientVisible, true) : undefined))
    .orderBy(asc(complaintEvents.at), asc(complaintEvents.id));
  return rows.map(({ e, actorName }) => ({
    id: e.id,
    action: e.action,
    actorId: e.actorId,
    actorName,
    note: e.note,
    clientVisible: e.clientVisible,
    at: e.at.toISOString(),
  }));
}
