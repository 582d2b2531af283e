/**
 * Direct-SQL seeding for the publish benchmark (bench/publish.bench.ts), run after the hub migrated the
 * database and seeded the demo firm:
 *
 *   - a set of N broker_client conversations: `clientsPerBroker` clients per broker (distinct pairs),
 *     each client with that broker as its primary (broker_clients), the conversation row as
 *     POST /api/conversations would create it, brokers in the demo's team A (manager1 supervises);
 *   - for a "history" set, H chat messages per conversation (broker and client alternating), the
 *     channel row's last_offset = H, and both participants' conversation_reads at H (the client's read
 *     offset `unread` lower, if asked), with any unread-counter column of conversation_reads counted from
 *     the log, and conversations.waiting_known/waiting_since (first-response wait) when the schema has them.
 *
 * The bench users get a scrypt hash with N = 1024 instead of the application's 16384: verifyPassword
 * honours the parameters stored in the hash, so login still goes through the real REST endpoint but
 * costs ~1/16 of the CPU (thousands of logins in seconds, not minutes). Archive records are not written
 * for seeded history (nothing in the publish path reads them).
 *
 * The schema is read at run time (information_schema): a NOT NULL column without a default that this
 * file does not know stops the seed with a message naming it, so a schema change cannot silently make
 * the seeded rows unlike real ones; other unknown columns are reported and left at their defaults.
 */
import { randomBytes, scryptSync } from 'node:crypto';
import pg from 'pg';

export const BENCH_PASSWORD = 'qiao-bench-2026';

/** `scrypt$N$r$p$salt$hash` as src/auth/password.ts stores it, with N = 1024. */
export function cheapPasswordHash(password: string): string {
  const N = 1024;
  const salt = randomBytes(16);
  const key = scryptSync(password, salt, 32, { N, r: 8, p: 1 });
  return `scrypt$${N}$8$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export interface Column {
  name: string;
  nullable: boolean;
  hasDefault: boolean;
  type: string;
}

export interface SchemaReport {
  columns: Record<string, Column[]>;
  /** conversations.waiting_known / waiting_since exist (set: known, and the wait computed from the log). */
  waitingColumns: boolean;
  /** Unknown columns left at their defaults, per table. */
  unknownColumns: Record<string, string[]>;
  /** Columns of conversation_reads recognised as unread counters and filled. */
  unreadCounterColumns: string[];
  /** Tables (other than the known ones) with a foreign key to conversations: not seeded. */
  otherConversationTables: string[];
  warnings: string[];
}

const KNOWN: Record<string, string[]> = {
  users: [
    'id', 'firm_id', 'login', 'password_hash', 'display_name', 'email', 'role', 'branch_id', 'team_id', 'tier', 'risk_level',
    'risk_assessed_on', 'professional_investor', 'locale', 'time_zone', 'active', 'created_at',
  ],
  broker_clients: ['broker_id', 'client_id', 'relation', 'created_at'],
  // waiting_since / waiting_known (first-response wait, migration 0010): set like ConversationsRepo.openPair
  // and recordMessage would have left them, when present.
  conversations: ['id', 'type', 'title', 'broker_id', 'client_id', 'manager_id', 'team_id', 'created_by', 'created_at', 'waiting_since', 'waiting_known'],
  conversation_reads: ['conversation_id', 'user_id', 'delivered_offset', 'read_offset', 'updated_at'],
  channels: ['name', 'family', 'last_offset', 'created_at'],
  messages: ['id', 'channel', 'offset', 'kind', 'sender_id', 'payload', 'size_bytes', 'idempotency_key', 'created_at'],
};
const UNREAD_COL = /unread/i;
const INTEGER_TYPES = new Set(['integer', 'bigint', 'smallint', 'numeric']);

/** Reads the columns of the tables the seed writes and checks them against what it knows. */
export async function inspectSchema(db: pg.ClientBase): Promise<SchemaReport> {
  const tables = Object.keys(KNOWN);
  const r = await db.query<{ table_name: string; column_name: string; is_nullable: string; column_default: string | null; data_type: string; is_identity: string; is_generated: string }>(
    `select table_name, column_name, is_nullable, column_default, data_type, is_identity, is_generated
       from information_schema.columns where table_schema = 'public' and table_name = any($1) order by table_name, ordinal_position`,
    [tables],
  );
  const report: SchemaReport = { columns: {}, waitingColumns: false, unknownColumns: {}, unreadCounterColumns: [], otherConversationTables: [], warnings: [] };
  const missingDefaults: string[] = [];
  for (const row of r.rows) {
    const col: Column = {
      name: row.column_name,
      nullable: row.is_nullable === 'YES',
      hasDefault: row.column_default !== null || row.is_identity === 'YES' || row.is_generated === 'ALWAYS',
      type: row.data_type,
    };
    (report.columns[row.table_name] ??= []).push(col);
    if (KNOWN[row.table_name].includes(col.name)) continue;
    if (row.table_name === 'conversation_reads' && UNREAD_COL.test(col.name) && INTEGER_TYPES.has(col.type)) {
      report.unreadCounterColumns.push(col.name);
      continue;
    }
    (report.unknownColumns[row.table_name] ??= []).push(`${col.name} ${col.type}${col.nullable ? '' : ' not null'}${col.hasDefault ? ' default' : ''}`);
    if (!col.nullable && !col.hasDefault) missingDefaults.push(`${row.table_name}.${col.name}`);
  }
  for (const t of tables) if (!report.columns[t]) throw new Error(`seed: table ${t} not found (schema changed?)`);
  const convCols = new Set(report.columns.conversations.map((c) => c.name));
  report.waitingColumns = convCols.has('waiting_known') && convCols.has('waiting_since');
  if (convCols.has('waiting_known') !== convCols.has('waiting_since')) {
    throw new Error('seed: conversations has only one of waiting_known / waiting_since: teach bench/lib/publish-seed.ts what they mean now');
  }
  if (missingDefaults.length) {
    throw new Error(
      `seed: the schema has NOT NULL columns without a default that bench/lib/publish-seed.ts does not fill: ${missingDefaults.join(', ')}. ` +
        'Teach the seed what they mean for a conversation with history.',
    );
  }
  const fk = await db.query<{ t: string }>(
    `select distinct tc.table_name as t from information_schema.table_constraints tc
       join information_schema.constraint_column_usage ccu on ccu.constraint_name = tc.constraint_name and ccu.table_schema = tc.table_schema
      where tc.constraint_type = 'FOREIGN KEY' and tc.table_schema = 'public' and ccu.table_name = 'conversations'`,
  );
  report.otherConversationTables = fk.rows.map((x) => x.t).filter((t) => t !== 'conversation_reads' && t !== 'conversation_members' && t !== 'conversations');
  for (const [t, cols] of Object.entries(report.unknownColumns)) report.warnings.push(`${t}: unknown column(s) left at their defaults: ${cols.join(', ')}`);
  if (report.otherConversationTables.length) {
    report.warnings.push(`tables referencing conversations that the seed does not fill: ${report.otherConversationTables.join(', ')}`);
  }
  if (report.unreadCounterColumns.length) report.warnings.push(`conversation_reads unread counter column(s) filled from the log: ${report.unreadCounterColumns.join(', ')}`);
  if (report.waitingColumns) report.warnings.push('conversations.waiting_known set true and waiting_since computed from the log (as the publish path keeps them)');
  return report;
}

export interface SeededConversation {
  id: string;
  brokerLogin: string;
  clientLogin: string;
  /** 0-based index of the broker within the set (conversations of one broker are consecutive). */
  brokerIndex: number;
}

export interface SetOptions {
  /** Login prefix of the set, e.g. "bench-f" (users bench-f-b00001…, bench-f-c00001…). */
  prefix: string;
  conversations: number;
  clientsPerBroker: number;
  passwordHash: string;
  /** created_at of the conversation rows (history sets are older). */
  createdAt: Date;
  schema: SchemaReport;
}

/** Creates brokers, clients, primary assignments and one broker_client conversation per client. */
export async function seedConversationSet(db: pg.ClientBase, o: SetOptions): Promise<SeededConversation[]> {
  const demo = await db.query<{ firm_id: string; branch_id: string; team_id: string }>(
    `select firm_id, branch_id, team_id from users where login = 'broker1'`,
  );
  if (!demo.rows[0]) throw new Error('seed: demo user broker1 not found (the hub did not seed the demo firm?)');
  const { firm_id: firm, branch_id: branch, team_id: team } = demo.rows[0];
  const n = o.conversations;
  const brokers = Math.ceil(n / o.clientsPerBroker);
  const cp = `${o.prefix}-c`;
  const bp = `${o.prefix}-b`;
  await db.query('begin');
  try {
    await db.query(
      `insert into users (firm_id, login, password_hash, display_name, email, role, branch_id, team_id)
       select $1, $2 || lpad(g::text, 5, '0'), $3, '基准经纪' || g, $2 || lpad(g::text, 5, '0') || '@bench.example', 'broker', $4, $5
       from generate_series(1, $6::int) g`,
      [firm, bp, o.passwordHash, branch, team, brokers],
    );
    await db.query(
      `insert into users (firm_id, login, password_hash, display_name, email, role, branch_id, tier, risk_level, risk_assessed_on)
       select $1, $2 || lpad(g::text, 5, '0'), $3, '基准客户' || g, $2 || lpad(g::text, 5, '0') || '@bench.example', 'client', $4, 'general', 'C3', current_date
       from generate_series(1, $5::int) g`,
      [firm, cp, o.passwordHash, branch, n],
    );
    await db.query(
      `insert into broker_clients (broker_id, client_id, relation)
       select b.id, c.id, 'primary' from generate_series(1, $3::int) g
         join users c on c.login = $1 || lpad(g::text, 5, '0')
         join users b on b.login = $2 || lpad((((g - 1) / $4::int) + 1)::text, 5, '0')`,
      [cp, bp, n, o.clientsPerBroker],
    );
    // A conversation opened through the API starts with its wait known (nothing waits yet).
    const wk = o.schema.waitingColumns;
    await db.query(
      `insert into conversations (type, broker_id, client_id, created_by, created_at${wk ? ', waiting_known' : ''})
       select 'broker_client', bc.broker_id, bc.client_id, bc.broker_id, $2::timestamptz${wk ? ', true' : ''}
         from broker_clients bc join users c on c.id = bc.client_id
        where c.login like $1 || '%'`,
      [cp, o.createdAt.toISOString()],
    );
    await db.query('commit');
  } catch (e) {
    await db.query('rollback').catch(() => {});
    throw e;
  }
  const r = await db.query<{ id: string; broker_login: string; client_login: string }>(
    `select cv.id, b.login as broker_login, c.login as client_login from conversations cv
       join users b on b.id = cv.broker_id join users c on c.id = cv.client_id
      where cv.type = 'broker_client' and c.login like $1 || '%' order by c.login`,
    [cp],
  );
  if (r.rows.length !== n) throw new Error(`seed: expected ${n} conversations for ${o.prefix}, found ${r.rows.length}`);
  return r.rows.map((x) => ({ id: x.id, brokerLogin: x.broker_login, clientLogin: x.client_login, brokerIndex: Number(x.broker_login.slice(bp.length)) - 1 }));
}

export interface HistoryOptions {
  /** Messages per conversation. */
  history: number;
  /** Of the broker's messages at the end of the history, how many the client has not read (default 0). */
  unread: number;
  /** Conversations per INSERT statement. */
  batchConversations: number;
  /** Statements in flight (pool connections). */
  parallel: number;
  schema: SchemaReport;
  onProgress?: (doneConversations: number, total: number) => void;
  /** Called after each step after the message rows (for timings). */
  onStep?: (what: string) => void;
}

const TEXTS = [
  '您好，请问今天的大盘走势怎么看？',
  '消费板块估值已回到合理区间，可以关注。',
  '我的风险测评是不是快到期了？',
  '好的，我稍后把研究所的点评转给您。',
  '收到，谢谢王经理。',
  'Please send me the latest note on the bond market.',
];

/**
 * History of H chat messages per conversation (offsets 1..H, broker on even offsets, client on odd,
 * 30 s apart ending now), the channel rows at H, and both participants' read positions. One INSERT …
 * SELECT … generate_series per batch of conversations, `parallel` batches at once, synchronous_commit off
 * for these sessions only. Returns the number of message rows written.
 */
export async function seedHistory(connectionString: string, convs: SeededConversation[], o: HistoryOptions): Promise<number> {
  const H = o.history;
  const ids = convs.map((c) => c.id);
  // synchronous_commit off for these sessions only: a crash would lose seed rows, not real data.
  const pool = new pg.Pool({ connectionString, max: Math.max(1, o.parallel), options: '-c synchronous_commit=off' });
  const textArray = `(array[${TEXTS.map((t) => `'${t.replace(/'/g, "''")}'`).join(', ')}])`;
  try {
    await pool.query(
      `insert into channels (name, family, last_offset) select 'conv.' || id, 'conv', $2::bigint from conversations where id = any($1::uuid[])`,
      [ids, H],
    );
    const batches: string[][] = [];
    for (let i = 0; i < ids.length; i += o.batchConversations) batches.push(ids.slice(i, i + o.batchConversations));
    let done = 0;
    let next = 0;
    const now = new Date().toISOString();
    const worker = async () => {
      for (;;) {
        const b = batches[next++];
        if (!b) return;
        await pool.query(
          `insert into messages (id, channel, "offset", kind, sender_id, payload, size_bytes, created_at)
           select gen_random_uuid(), 'conv.' || c.id, g, 'chat',
                  (case when g % 2 = 0 then c.broker_id else c.client_id end)::text,
                  jsonb_build_object('text', t.txt), octet_length(t.txt) + 11,
                  $3::timestamptz - make_interval(secs => ($2::int - g) * 30)
             from conversations c
             cross join generate_series(1, $2::int) g
             cross join lateral (select ${textArray}[1 + g % ${TEXTS.length}] || ' #' || g as txt) t
            where c.id = any($1::uuid[])`,
          [b, H, now],
        );
        done += b.length;
        o.onProgress?.(done, ids.length);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, o.parallel) }, worker));

    // Read positions: the broker has read everything; the client all but its last `unread` offsets.
    // Unread counters (when the schema has them) are counted from the log, as the hub defines them:
    // chat messages from others after the read offset, not recalled (nothing is recalled here).
    const clientRead = Math.max(0, H - o.unread);
    const unreadCols = o.schema.unreadCounterColumns;
    const count = (user: string, read: string) =>
      `(select count(*) from messages m where m.channel = 'conv.' || c.id and m."offset" > ${read} and m.kind = 'chat' and m.sender_id <> ${user}::text)`;
    await pool.query(
      `insert into conversation_reads (conversation_id, user_id, delivered_offset, read_offset${unreadCols.map((x) => `, "${x}"`).join('')})
       select c.id, c.broker_id, $2::bigint, $2::bigint${unreadCols.map(() => `, ${count('c.broker_id', '$2::bigint')}`).join('')}
         from conversations c where c.id = any($1::uuid[])
       union all
       select c.id, c.client_id, $2::bigint, $3::bigint${unreadCols.map(() => `, ${count('c.client_id', '$3::bigint')}`).join('')}
         from conversations c where c.id = any($1::uuid[])`,
      [ids, H, clientRead],
    );
    o.onStep?.('read positions and unread counters');
    if (o.schema.waitingColumns) {
      // The workstation's first-response wait: the client's oldest chat after the last broker-side chat
      // (two index-bounded lookups per conversation on messages (channel, offset)).
      await pool.query(
        `update conversations c set waiting_known = true, waiting_since = w.since
           from (select c2.id,
                        (select min(m.created_at) from messages m
                          where m.channel = 'conv.' || c2.id and m."offset" > coalesce(lb.o, 0)
                            and m.kind = 'chat' and m.sender_id = c2.client_id::text) as since
                   from conversations c2
                   left join lateral (select a."offset" as o from messages a
                                       where a.channel = 'conv.' || c2.id and a.kind = 'chat' and a.sender_id <> c2.client_id::text
                                       order by a."offset" desc limit 1) lb on true
                  where c2.id = any($1::uuid[])) w
          where c.id = w.id`,
        [ids],
      );
      o.onStep?.('first-response wait');
    }
    return ids.length * H;
  } finally {
    await pool.end();
  }
}
