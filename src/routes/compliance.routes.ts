/**
 * Compliance: archive search and export, chain verification, legal holds, and the DLP dictionary.
 *
 * Who may do what (asserted cell by cell in test/integration/authz-matrix.test.ts):
 * - search and export the archive, legal holds: compliance only. Admins run the system but do not
 *   read client communications (separation of duties).
 * - verify the chain, manage DLP terms: compliance and admin.
 * Every search and export is audited (audit_log) and archived (`compliance.search`,
 * `compliance.export`, with the filter), before the result is returned; refusals are audited too.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import { LegalHolds, holdJson } from '../compliance/legal-holds.ts';
import {
  UUID_PATTERN,
  WHEN_PATTERN,
  buildExport,
  describeFilter,
  findPerson,
  peopleOf,
  recordJson,
  resolveFilter,
  searchArchive,
  type ArchiveFilter,
  type PersonRef,
} from '../compliance/archive-search.ts';
import { verifyArchive } from '../compliance/verify.ts';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { NoContent, errors } from './schemas.ts';
import { typed } from './type-provider.ts';

const COMPLIANCE = ['compliance'] as const;
const COMPLIANCE_OR_ADMIN = ['compliance', 'admin'] as const;

const filterProps = {
  person: { type: 'string', minLength: 1, maxLength: 128, description: 'login or user id: records that concern this person' },
  conversationId: { type: 'string', pattern: UUID_PATTERN },
  from: { type: 'string', pattern: WHEN_PATTERN, description: 'inclusive; a date (YYYY-MM-DD) is that day 00:00 Beijing time' },
  to: { type: 'string', pattern: WHEN_PATTERN, description: 'exclusive; a date (YYYY-MM-DD) includes that whole day, Beijing time' },
  q: { type: 'string', minLength: 1, maxLength: 200, description: 'keyword: case-insensitive substring of the record text' },
} as const;

const PersonSchema = {
  type: 'object',
  properties: { id: { type: 'string' }, login: { type: 'string' }, displayName: { type: 'string' }, role: { type: 'string' } },
} as const;

const ArchiveRecordSchema = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    recordedAt: { type: 'string', format: 'date-time' },
    kind: { type: 'string' },
    actorId: { type: 'string' },
    subjects: { type: 'array', items: { type: 'string' } },
    conversationId: { type: ['string', 'null'] },
    channel: { type: ['string', 'null'] },
    retentionClass: { type: 'string' },
    retainUntil: { type: 'string', format: 'date-time' },
    body: {},
    text: { type: 'string' },
    prevHash: { type: 'string' },
    hash: { type: 'string' },
  },
} as const;

const HoldSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    subjectId: { type: ['string', 'null'] },
    conversationId: { type: ['string', 'null'] },
    reason: { type: 'string' },
    placedBy: { type: 'string' },
    placedAt: { type: 'string' },
    releasedAt: { type: ['string', 'null'] },
    active: { type: 'boolean' },
  },
} as const;

const TermSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    term: { type: 'string' },
    lang: { type: 'string' },
    action: { type: 'string' },
    active: { type: 'boolean' },
    createdAt: { type: 'string' },
    detail: { type: 'object', additionalProperties: true },
  },
} as const;

const IdParam = { type: 'object', properties: { id: { type: 'string', pattern: UUID_PATTERN } }, required: ['id'] } as const;

export default async function complianceRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  app.addHook('preHandler', authenticate(d.tokens));
  const holds = new LegalHolds(d.db.db, d.archive);

  /** Refuses (QIAO_FORBIDDEN, audited) unless the caller has one of `roles`. */
  const allow = async (req: FastifyRequest, roles: readonly string[], action: string): Promise<Principal> => {
    const p = req.principal;
    if (!roles.includes(p.role)) {
      await d.audit.append({ actorId: p.id, action, outcome: 'refused', detail: { code: 'QIAO_FORBIDDEN', role: p.role }, ip: req.ip }).catch(() => {});
      throw new QiaoError('QIAO_FORBIDDEN', `Only ${roles.join(' or ')} users may do this`);
    }
    return p;
  };

  const me = async (p: Principal): Promise<PersonRef | { id: string }> => (await findPerson(d.db.db, p.id)) ?? { id: p.id };

  app.get(
    '/api/compliance/archive',
    {
      schema: {
        tags: ['compliance'],
        summary: 'Search the compliance archive (compliance only; audited)',
        description:
          'Filters combine with AND. `person` matches records whose subjects include the person, and records of conversations the person is or was a party to. ' +
          'Newest first; pass `nextCursor` as `cursor` for the next page.',
        security: bearerSecurity,
        querystring: {
          type: 'object',
          properties: {
            ...filterProps,
            limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
            cursor: { type: 'integer', minimum: 1, description: 'exclusive upper bound on seq (nextCursor of the previous page)' },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              records: { type: 'array', items: ArchiveRecordSchema },
              people: { type: 'object', additionalProperties: PersonSchema },
              nextCursor: { type: ['integer', 'null'] },
            },
          },
          ...errors(400, 401, 403, 404),
        },
      },
    },
    async (req) => {
      const p = await allow(req, COMPLIANCE, 'compliance.search');
      const q = req.query;
      const filter = await resolveFilter(d.db.db, q);
      const { records, nextCursor } = await searchArchive(d.db.db, filter, { limit: q.limit, cursor: q.cursor });
      const detail = { filter: describeFilter(filter), cursor: q.cursor ?? null, count: records.length };
      // Recorded before the result is returned: no search is ever served unrecorded.
      await d.audit.append({ actorId: p.id, action: 'compliance.search', outcome: 'ok', detail, ip: req.ip });
      await d.archive.append({ kind: 'compliance.search', actorId: p.id, subjects: [p.id], retentionClass: 'compliance-activity', body: detail });
      return { records: records.map(recordJson), people: await peopleOf(d.db.db, records), nextCursor };
    },
  );

  app.post(
    '/api/compliance/exports',
    {
      schema: {
        tags: ['compliance'],
        summary: 'Export matching archive records: records.jsonl, records.txt (zh, Beijing time) and manifest.json with sha256 of each (compliance only; audited)',
        description: 'The files are returned inline (`files[].content`). Refused with QIAO_EXPORT_TOO_LARGE when more records match than one export may hold.',
        security: bearerSecurity,
        body: { type: 'object', properties: filterProps, additionalProperties: false },
        response: {
          201: {
            type: 'object',
            properties: {
              exportId: { type: 'string' },
              manifest: { type: 'object', additionalProperties: true },
              files: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { name: { type: 'string' }, contentType: { type: 'string' }, sha256: { type: 'string' }, bytes: { type: 'integer' }, content: { type: 'string' } },
                },
              },
            },
          },
          ...errors(400, 401, 403, 404, 422),
        },
      },
    },
    async (req, reply) => {
      const p = await allow(req, COMPLIANCE, 'compliance.export');
      const filter = await resolveFilter(d.db.db, (req.body ?? {}) as ArchiveFilter);
      const bundle = await buildExport(d.db.db, filter, await me(p), { maxRecords: d.config.exportMaxRecords });
      const m = bundle.manifest;
      const detail = {
        exportId: bundle.exportId,
        filter: m.filter,
        count: m.recordCount,
        firstSeq: m.firstSeq,
        lastSeq: m.lastSeq,
        files: Object.fromEntries(bundle.files.map((f) => [f.name, f.sha256])),
      };
      await d.audit.append({ actorId: p.id, action: 'compliance.export', target: bundle.exportId, outcome: 'ok', detail, ip: req.ip });
      await d.archive.append({ kind: 'compliance.export', actorId: p.id, subjects: [p.id], retentionClass: 'compliance-activity', body: detail });
      reply.code(201);
      return bundle;
    },
  );

  app.get(
    '/api/compliance/archive/verify',
    {
      schema: {
        tags: ['compliance'],
        summary: 'Verify the archive hash chain end to end (compliance and admin)',
        description: 'Reports altered records (hash mismatch), broken links (prev_hash mismatch) and missing records (gaps no purge record accounts for).',
        security: bearerSecurity,
        response: {
          200: {
            type: 'object',
            properties: {
              ok: { type: 'boolean' },
              checked: { type: 'integer' },
              firstSeq: { type: ['integer', 'null'] },
              lastSeq: { type: ['integer', 'null'] },
              lastHash: { type: ['string', 'null'] },
              firstBrokenSeq: { type: ['integer', 'null'] },
              purgedGaps: { type: 'integer' },
              problemCount: { type: 'integer' },
              problems: {
                type: 'array',
                items: { type: 'object', properties: { seq: { type: 'integer' }, problem: { type: 'string' }, detail: { type: 'string' } } },
              },
              startedAt: { type: 'string' },
              finishedAt: { type: 'string' },
            },
          },
          ...errors(401, 403),
        },
      },
    },
    async (req) => {
      const p = await allow(req, COMPLIANCE_OR_ADMIN, 'compliance.verify');
      const report = await verifyArchive(d.db.db);
      await d.audit.append({
        actorId: p.id,
        action: 'compliance.verify',
        outcome: 'ok',
        detail: { ok: report.ok, checked: report.checked, lastSeq: report.lastSeq, lastHash: report.lastHash, firstBrokenSeq: report.firstBrokenSeq },
        ip: req.ip,
      });
      if (!report.ok) req.log.error({ firstBrokenSeq: report.firstBrokenSeq, problems: report.problemCount }, 'archive chain verification failed');
      return report;
    },
  );

  // ---- legal holds ----

  app.get(
    '/api/compliance/legal-holds',
    {
      schema: {
        tags: ['compliance'],
        summary: 'Legal holds (compliance only)',
        security: bearerSecurity,
        querystring: { type: 'object', properties: { active: { type: 'boolean' } }, additionalProperties: false },
        response: { 200: { type: 'object', properties: { holds: { type: 'array', items: HoldSchema } } }, ...errors(400, 401, 403) },
      },
    },
    async (req) => {
      await allow(req, COMPLIANCE, 'legal-hold.list');
      const { active } = req.query;
      return { holds: (await holds.list({ activeOnly: active === true })).map(holdJson) };
    },
  );

  app.post(
    '/api/compliance/legal-holds',
    {
      schema: {
        tags: ['compliance'],
        summary: 'Place a legal hold on a person or a conversation: their archive records are not purged while it is active (compliance only)',
        security: bearerSecurity,
        body: {
          type: 'object',
          properties: {
            subjectId: { type: 'string', pattern: UUID_PATTERN, description: 'user id' },
            conversationId: { type: 'string', pattern: UUID_PATTERN },
            reason: { type: 'string', minLength: 1, maxLength: 1000 },
          },
          required: ['reason'],
          oneOf: [{ required: ['subjectId'] }, { required: ['conversationId'] }],
          additionalProperties: false,
        },
        response: { 201: HoldSchema, ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const p = await allow(req, COMPLIANCE, 'legal-hold.place');
      const body = req.body;
      if (!body.reason.trim()) throw new QiaoError('QIAO_BAD_REQUEST', 'reason must not be blank');
      const row = await holds.place(p.id, body);
      await d.audit.append({ actorId: p.id, action: 'legal-hold.place', target: row.id, outcome: 'ok', detail: { subjectId: row.subjectId, conversationId: row.conversationId }, ip: req.ip });
      reply.code(201);
      return holdJson(row);
    },
  );

  app.post(
    '/api/compliance/legal-holds/:id/release',
    {
      schema: {
        tags: ['compliance'],
        summary: 'Release a legal hold (compliance only)',
        security: bearerSecurity,
        params: IdParam,
        body: { anyOf: [{ type: 'null' }, { type: 'object', properties: { note: { type: 'string', maxLength: 1000 } }, additionalProperties: false }] },
        response: { 200: HoldSchema, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (req) => {
      const p = await allow(req, COMPLIANCE, 'legal-hold.release');
      const { id } = req.params;
      const row = await holds.release(p.id, id.toLowerCase(), req.body?.note);
      await d.audit.append({ actorId: p.id, action: 'legal-hold.release', target: row.id, outcome: 'ok', ip: req.ip });
      return holdJson(row);
    },
  );

  // ---- DLP dictionary ----

  app.get(
    '/api/compliance/dlp-terms',
    {
      schema: {
        tags: ['compliance'],
        summary: 'The DLP dictionary (compliance and admin)',
        security: bearerSecurity,
        response: { 200: { type: 'object', properties: { terms: { type: 'array', items: TermSchema } } }, ...errors(401, 403) },
      },
    },
    async (req) => {
      await allow(req, COMPLIANCE_OR_ADMIN, 'dlp.term.list');
      return { terms: (await d.dlp.list()).map((t) => ({ ...t, createdAt: t.createdAt.toISOString() })) };
    },
  );

  app.post(
    '/api/compliance/dlp-terms',
    {
      schema: {
        tags: ['compliance'],
        summary: 'Add a DLP term or change its action: block (not sent), warn (sent, sender told), log (sent, recorded) (compliance and admin)',
        security: bearerSecurity,
        body: {
          type: 'object',
          properties: {
            term: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[^\\u0000-\\u001f\\u007f]+$' },
            action: { type: 'string', enum: ['block', 'warn', 'log'] },
            lang: { type: 'string', enum: ['zh', 'en'] },
            note: { type: 'string', maxLength: 500 },
          },
          required: ['term', 'action'],
          additionalProperties: false,
        },
        response: { 201: TermSchema, 200: TermSchema, ...errors(400, 401, 403) },
      },
    },
    async (req, reply) => {
      const p = await allow(req, COMPLIANCE_OR_ADMIN, 'dlp.term.set');
      const body = req.body;
      const { term, created } = await d.dlp.upsert(p.id, body);
      await d.audit.append({ actorId: p.id, action: 'dlp.term.set', target: term.term, outcome: 'ok', detail: { action: term.action }, ip: req.ip });
      reply.code(created ? 201 : 200);
      return { ...term, createdAt: term.createdAt.toISOString() };
    },
  );

  app.delete(
    '/api/compliance/dlp-terms/:id',
    {
      schema: {
        tags: ['compliance'],
        summary: 'Remove a DLP term (compliance and admin; the change is archived)',
        security: bearerSecurity,
        params: IdParam,
        response: { 204: NoContent('Removed'), ...errors(400, 401, 403, 404) },
      },
    },
    async (req, reply) => {
      const p = await allow(req, COMPLIANCE_OR_ADMIN, 'dlp.term.remove');
      const { id } = req.params;
      const row = await d.dlp.remove(p.id, id.toLowerCase());
      await d.audit.append({ actorId: p.id, action: 'dlp.term.remove', target: row.term, outcome: 'ok', ip: req.ip });
      reply.code(204);
    },
  );
}
