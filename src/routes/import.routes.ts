/**
 * Bulk import of clients and their primary brokers from a CSV file (admin): POST the file's bytes as
 * text/csv. All or nothing per file — any rejected row and nothing is written (QIAO_CSV_ROWS_REJECTED
 * with the report of every rejected row); `dryRun=true` only checks. docs/accounts.md "Bulk import",
 * src/admin/client-import.ts.
 */
import type { FastifyInstance } from 'fastify';
import { ClientImporter } from '../admin/client-import.ts';
import { IMPORT_MAX_BYTES, IMPORT_MAX_ROWS } from '../admin/csv-rows.ts';
import { COLUMNS } from '../admin/import-columns.ts';
import type { AppDeps } from '../deps.ts';
import { QiaoError } from '../errors/codes.ts';
import { authenticate, bearerSecurity } from './auth-hook.ts';
import { errors } from './schemas.ts';
import { typed } from './type-provider.ts';

/** Content types a CSV upload may carry (Windows browsers label .csv files as Excel's). */
const CSV_TYPES = ['text/csv', 'application/csv', 'application/vnd.ms-excel', 'application/octet-stream'];

const RowError = {
  type: 'object',
  properties: { field: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' } },
  required: ['field', 'code', 'message'],
} as const;
const ReportRow = {
  type: 'object',
  properties: {
    row: { type: 'integer', description: 'row number as a spreadsheet shows it (the header is row 1)' },
    login: { type: 'string' },
    brokerLogin: { type: 'string' },
    errors: { type: 'array', items: RowError },
    clientId: { type: ['string', 'null'] },
    passwordGenerated: { type: 'boolean', description: 'no initial password in the file: the admin must set one (POST /api/admin/users/:id/password)' },
  },
  required: ['row', 'login', 'brokerLogin', 'errors', 'clientId', 'passwordGenerated'],
} as const;
const Result = {
  type: 'object',
  properties: {
    dryRun: { type: 'boolean' },
    encoding: { type: 'string', enum: ['utf-8', 'gb18030'] },
    total: { type: 'integer' },
    created: { type: 'integer' },
    report: { type: 'array', items: ReportRow },
  },
  required: ['dryRun', 'encoding', 'total', 'created', 'report'],
} as const;

export default async function importRoutes(scope: FastifyInstance, d: AppDeps): Promise<void> {
  const app = typed(scope);
  const importer = new ClientImporter(d.db.db, d.archive);
  // Scoped to this plugin: the file arrives as raw bytes (its encoding is decided by the importer).
  app.addContentTypeParser(CSV_TYPES, { parseAs: 'buffer', bodyLimit: IMPORT_MAX_BYTES }, (_req, body, done) => done(null, body));
  // Who may import is decided before the body is read: a 5 MB upload is not taken from anyone else.
  const auth = authenticate(d.tokens);
  app.addHook('onRequest', async (req, reply) => {
    await auth(req, reply);
    if (req.principal.role !== 'admin') throw new QiaoError('QIAO_FORBIDDEN', 'Importing clients is for administrators');
  });

  app.post(
    '/api/admin/import/clients',
    {
      bodyLimit: IMPORT_MAX_BYTES,
      schema: {
        tags: ['admin'],
        summary: 'Import clients with their primary broker from a CSV file (all or nothing per file)',
        description:
          `The body is the file itself (Content-Type text/csv), UTF-8 (with or without BOM) or GB18030/GBK, at most ${IMPORT_MAX_BYTES / 1024 / 1024} MB and ${IMPORT_MAX_ROWS} rows. ` +
          `Header (Chinese or English names): ${COLUMNS.map((c) => `${c.zh}/${c.field}${c.required ? ' (required)' : ''}`).join(', ')}. ` +
          'Every row is checked; if any is rejected nothing is written and the answer is 422 QIAO_CSV_ROWS_REJECTED with `details.report` ' +
          '(each rejected row with its errors: field, code, message). Otherwise every client and its primary-broker assignment are created in one transaction (201). ' +
          '`dryRun=true` checks only (200). File problems: QIAO_CSV_ENCODING, QIAO_CSV_MALFORMED, QIAO_CSV_COLUMNS (details.expected), QIAO_CSV_EMPTY, QIAO_CSV_TOO_MANY_ROWS, QIAO_PAYLOAD_TOO_LARGE.',
        security: bearerSecurity,
        querystring: { type: 'object', properties: { dryRun: { type: 'boolean', default: false } }, additionalProperties: false },
        body: { content: { 'text/csv': { schema: { description: 'the CSV file’s bytes' } } } },
        response: { 200: Result, 201: Result, ...errors(400, 401, 403, 409, 413, 422) },
      },
    },
    async (req, reply) => {
      if (!Buffer.isBuffer(req.body)) throw new QiaoError('QIAO_BAD_REQUEST', 'Send the CSV file itself as the body, with Content-Type text/csv');
      const { dryRun } = req.query;
      const charset = /;\s*charset=("?)([^";]+)\1/i.exec(req.headers['content-type'] ?? '')?.[2];
      try {
        const r = await importer.run(req.principal, req.body, { dryRun, charset, ip: req.ip });
        return reply.code(dryRun ? 200 : 201).send(r);
      } catch (e) {
        // Refused imports are audited (who tried, why); the file's rows are in the answer only.
        if (!dryRun && e instanceof QiaoError && e.status < 500) {
          const detail = { code: e.code, ...(e.code === 'QIAO_CSV_ROWS_REJECTED' ? { rejected: (e.details as { rejected: number }).rejected } : {}) };
          await d.audit.append({ actorId: req.principal.id, action: 'client.import', outcome: 'refused', detail, ip: req.ip }).catch(() => {});
        }
        throw e;
      }
    },
  );
}
