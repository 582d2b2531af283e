/**
 * Price-alert engine of one hub node: evaluates market ticks against the in-memory rule index and
 * notifies the owners of the rules that fire.
 *
 * Where evaluation happens, and why it is correct with several processes
 * ----------------------------------------------------------------------
 * Ticks are evaluated in the ingest request itself, on whichever hub node received it, against an
 * index of all active rules that every node keeps (100,000 rules ≈ 60 MB of heap). No tick goes through the
 * job queue: a queue hop per tick at 10,000 ticks/s would cost more than the evaluation, and several
 * queue workers would evaluate one symbol's ticks out of order.
 *
 * The index is a cache; Postgres decides. A firing is a conditional UPDATE (one-shot: active → false;
 * repeat: armed → false) and only the node whose UPDATE matched publishes the notification, so a
 * crossing fires at most once even if two nodes see it (a feed spread over nodes by a load balancer,
 * a stale index on a node). Re-arming is a conditional UPDATE too. Every transition, and every rule
 * created or deleted through the API, is broadcast (AlertSync: Redis pub/sub, in-process in embedded
 * mode) so other nodes update their index within milliseconds; a node that missed a broadcast finds
 * out at its next claim (which fails; a deleted rule is then dropped) and by the reload from Postgres
 * after a Redis reconnect and every QIAO_ALERT_RESYNC_S. The one thing a stale node can cost is a
 * repeat rule's re-arm when a symbol's ticks alternate between nodes faster than the broadcast; the
 * deployment advice is therefore to send a symbol's ticks to one node (one feed connection, or a load
 * balancer hashing on the feed), which is also what keeps ticks in order.
 *
 * Within a node, ticks are evaluated synchronously in arrival order (the index changes atomically per
 * tick) and each symbol's database writes are chained, so they reach Postgres in evaluation order.
 *
 * Firing = claim + notification in one transaction: the owner's inbox publication (`inbox.<userId>`,
 * kind `alert`, event `price`) is stored with the conditional UPDATE of the rule inside the publish
 * transaction (AppendInput.inTx), so a rule is marked fired if and only if its notification is stored,
 * on the bus and its fanout job enqueued (fanout then routes it to web, push and email per the user's
 * preferences). That is what "notification" means in the benchmark.
 *
 * The ingest request answers once its ticks are evaluated; claims and notifications follow
 * asynchronously (publishing is far slower than evaluating, and a burst of firings must not hold up
 * the ticks of other symbols). Back-pressure: with more than MAX_PENDING firings not yet published,
 * ingest waits until the backlog is below it. A process that dies with firings not yet claimed loses
 * nothing durable: the rules are still armed in Postgres, and since conditions are levels, the next
 * tick beyond the threshold after the restart fires them.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import { QiaoError } from '../errors/codes.ts';
import type { Publisher } from '../hub/publisher.ts';
import { AlertIndex, type AlertRuleState, type IndexedRule } from './alert-index.ts';
import type { AlertSync, AlertSyncEvent, AlertSyncMessage } from './alert-sync.ts';

export interface Tick {
  symbol: string;
  price: number;
  /** Exchange time of the tick (ISO 8601); shown in the notification. */
  time?: string;
  /** Short name of the security (e.g. 贵州茅台); remembered per symbol for notification titles. */
  name?: string;
}

/** The database side the engine needs (AlertRulesRepo). */
export interface AlertRulesStore {
  allActive(): AsyncIterable<AlertRuleState[]>;
  /** `tx`: the transaction of the notification's publish (the claim commits with it or not at all). */
  claimFire(id: string, repeat: boolean, at: Date, tx?: unknown): Promise<Date | null>;
  rearm(ids: string[]): Promise<string[]>;
  state(id: string): Promise<{ active: boolean; armed: boolean } | undefined>;
}

/** The alert payload published to the owner's inbox (channels/payloads.ts AlertPayload). */
export interface PriceAlertPayload {
  symbol: string;
  title: string;
  body: string;
  severity: 'warning';
  event: 'price';
  price: number;
}

/**
 * Publishes a notification to `inbox.<userId>`, running `inTx` inside its store transaction (a throw
 * there rolls the publication back). No idempotency key is needed: the claim is in the transaction, so
 * a retry of a publish that did commit finds the rule claimed and publishes nothing.
 */
export type AlertNotify = (userId: string, payload: PriceAlertPayload, inTx: (tx: unknown) => Promise<void>) => Promise<void>;

export interface AlertEngineDeps {
  store: AlertRulesStore;
  notify: AlertNotify;
  sync: AlertSync;
  logger: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;
  nodeId: string;
  hysteresisBp: number;
  /** Seconds between reloads from Postgres; 0 disables. */
  resyncS: number;
  /** Called after each notification is published (benchmarks, metrics). */
  onNotified?: (info: { ruleId: string; userId: string; symbol: string; latencyMs: number }) => void;
  /** Firings not yet published above which ingest waits (default MAX_PENDING). */
  maxPending?: number;
}

export interface IngestResult {
  ticks: number;
  /** Rules looked at, over all ticks (binary-search probes + rules that changed state). */
  evaluated: number;
  /** Rules this node found crossed; each becomes one notification unless another node claimed it first. */
  fired: number;
  rearmed: number;
}

export interface AlertEngineStats {
  rules: number;
  symbols: number;
  ticks: number;
  evaluated: number;
  fired: number;
  notified: number;
  lostClaims: number;
  notifyFailures: number;
  /** Firings evaluated but not yet published. */
  pending: number;
}

const NOTIFY_ATTEMPTS = 3;
/** Firings not yet published above which ingest waits (back-pressure on the feed). */
export const MAX_PENDING = 10_000;

/** Thrown inside the publish transaction when the claim finds the rule already fired or gone. */
class ClaimLost extends QiaoError {
  constructor() {
    super('QIAO_CONFLICT', 'price alert already fired or deleted');
  }
}

function formatPrice(p: number): string {
  // A-share prices have two decimals (funds three); never show float noise.
  const two = p.toFixed(2);
  return Number(two) === p ? two : p.toFixed(3);
}

function shanghaiTime(iso: string | undefined): string {
  const d = iso ? new Date(iso) : new Date();
  const t = Number.isNaN(d.getTime()) ? new Date() : d;
  return t.toLocaleTimeString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false });
}

/** The rule side a payload needs: above/below rules as stored; a fired move leg adds its side and threshold. */
export type PayloadRule = Pick<AlertRuleState, 'symbol' | 'direction' | 'price' | 'repeat'> & Partial<Pick<IndexedRule, 'percent' | 'side' | 'threshold'>>;

export function priceAlertPayload(rule: PayloadRule, tick: Tick, name?: string): PriceAlertPayload {
  const who = name ? `${name} ${rule.symbol}` : rule.symbol;
  const tail = rule.repeat ? '' : '；此提醒为一次性提醒，已关闭';
  if (rule.direction === 'move') {
    const up = (rule.side ?? (tick.price >= rule.price ? 'above' : 'below')) === 'above';
    const pct = `${Number((rule.percent ?? 0).toFixed(2))}%`;
    const threshold = rule.threshold ?? rule.price * (1 + ((up ? 1 : -1) * (rule.percent ?? 0)) / 100);
    return {
      symbol: rule.symbol,
      title: `${who} 较参考价 ${formatPrice(rule.price)} ${up ? '上涨' : '下跌'}超过 ${pct}`,
      body: `最新价 ${formatPrice(tick.price)}（${shanghaiTime(tick.time)}），提醒价 ${formatPrice(Number(threshold.toFixed(3)))}${tail}`,
      severity: 'warning',
      event: 'price',
      price: tick.price,
    };
  }
  const verb = rule.direction === 'above' ? '突破' : '跌破';
  return {
    symbol: rule.symbol,
    title: `${who} ${verb} ${formatPrice(rule.price)}`,
    body: `最新价 ${formatPrice(tick.price)}（${shanghaiTime(tick.time)}），提醒价 ${formatPrice(rule.price)}${tail}`,
    severity: 'warning',
    event: 'price',
    price: tick.price,
  };
}

export class AlertEngine {
  private index: AlertIndex;
  private readonly names = new Map<string, string>();
  private readonly chains = new Map<string, Promise<void>>();
  private started: Promise<void> | null = null;
  private reloading: Promise<void> | null = null;
  /** Sync events received while a reload runs, applied to the fresh index after it. */
  private buffered: AlertSyncEvent[] | null = null;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly counters = { ticks: 0, evaluated: 0, fired: 0, notified: 0, lostClaims: 0, notifyFailures: 0 };
  private pending = 0;
  private drainWaiters: Array<() => void> = [];
  private readonly onSync = (msg: AlertSyncMessage) => this.applyRemote(msg);

  constructor(private readonly d: AlertEngineDeps) {
    this.index = new AlertIndex({ hysteresisBp: d.hysteresisBp });
  }

  /** Loads the index from Postgres and joins the sync. Idempotent. */
  start(): Promise<void> {
    this.started ??= (async () => {
      await this.d.sync.subscribe(this.onSync);
      this.d.sync.onResync(() => void this.reload().catch((err) => this.d.logger.error({ err }, 'alert rules: reload failed')));
      await this.reload();
      if (this.d.resyncS > 0) {
        this.timer = setInterval(() => void this.reload().catch((err) => this.d.logger.error({ err }, 'alert rules: reload failed')), this.d.resyncS * 1000);
        this.timer.unref();
      }
    })();
    return this.started;
  }

  get stats(): AlertEngineStats {
    return { rules: this.index.size, symbols: this.index.symbolCount, ...this.counters, pending: this.pending };
  }

  /** The live index (tests, benchmarks). */
  get rules(): AlertIndex {
    return this.index;
  }

  /** Reloads every active rule from Postgres into a fresh index, then swaps it in. */
  reload(): Promise<void> {
    this.reloading ??= (async () => {
      this.buffered = [];
      try {
        const fresh = new AlertIndex({ hysteresisBp: this.d.hysteresisBp });
        for await (const page of this.d.store.allActive()) for (const r of page) fresh.upsert(r);
        const pending = this.buffered;
        this.index = fresh;
        this.buffered = null;
        for (const ev of pending) this.apply(ev);
        this.d.logger.info({ rules: fresh.size, symbols: fresh.symbolCount }, 'alert rules loaded');
      } finally {
        this.buffered = null;
        this.reloading = null;
      }
    })();
    return this.reloading;
  }

  /** A rule was created (by the API on this node): index it here and tell the other nodes. */
  async ruleCreated(rule: AlertRuleState): Promise<void> {
    this.record({ t: 'upsert', rule });
    await this.broadcast([{ t: 'upsert', rule }]);
  }

  /**
   * A rule was paused (inactive) or resumed (active and armed again) through the API on this node:
   * a resumed rule is indexed like a new one, a paused one leaves the index, here and on every node.
   */
  async ruleUpdated(rule: AlertRuleState & { active: boolean }): Promise<void> {
    const { active, ...state } = rule;
    const ev: AlertSyncEvent = active ? { t: 'upsert', rule: state } : { t: 'delete', id: rule.id };
    this.record(ev);
    await this.broadcast([ev]);
  }

  async ruleDeleted(id: string): Promise<void> {
    this.record({ t: 'delete', id });
    await this.broadcast([{ t: 'delete', id }]);
  }

  /**
   * Evaluates ticks in order; resolves when they are evaluated (and the backlog of unpublished firings
   * is below the limit). Claims and notifications follow asynchronously, per symbol in order; their
   * failures are logged, never thrown: the feed must not resend ticks for them.
   */
  async ingest(ticks: Tick[]): Promise<IngestResult> {
    if (this.started) await this.started;
    const received = performance.now();
    let evaluated = 0;
    let fired = 0;
    let rearmed = 0;
    for (const tick of ticks) {
      if (tick.name) this.names.set(tick.symbol, tick.name);
      const ev = this.index.evaluate(tick.symbol, tick.price);
      evaluated += ev.evaluated;
      if (!ev.fired.length && !ev.rearmed.length) continue;
      fired += ev.fired.length;
      rearmed += ev.rearmed.length;
      // Copy what the later async step needs: the index objects keep changing with later ticks.
      const firedRules = ev.fired.map((r) => ({ ...r }));
      const rearmedIds = ev.rearmed.map((r) => r.id);
      const n = firedRules.length;
      this.pending += n;
      void this.chain(tick.symbol, () => this.persist(tick, firedRules, rearmedIds, received)).finally(() => this.settle(n));
    }
    this.counters.ticks += ticks.length;
    this.counters.evaluated += evaluated;
    this.counters.fired += fired;
    if (this.pending > (this.d.maxPending ?? MAX_PENDING)) await this.backlogBelow(this.d.maxPending ?? MAX_PENDING);
    return { ticks: ticks.length, evaluated, fired, rearmed };
  }

  /** Resolves when every firing evaluated so far is claimed and published (or failed). */
  flush(): Promise<void> {
    return this.backlogBelow(1);
  }

  private backlogBelow(limit: number): Promise<void> {
    if (this.pending < limit && (limit > 1 || this.chains.size === 0)) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.pending < limit && (limit > 1 || this.chains.size === 0)) resolve();
        else this.drainWaiters.push(check);
      };
      this.drainWaiters.push(check);
    });
  }

  private settle(n: number): void {
    this.pending -= n;
    const waiters = this.drainWaiters.splice(0);
    for (const w of waiters) w();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.d.sync.unsubscribe(this.onSync);
    await Promise.allSettled([...this.chains.values()]);
  }

  // ---------------------------------------------------------------------------------------------

  /** Runs `fn` after every earlier write for `symbol` (so Postgres sees them in evaluation order). */
  private chain(symbol: string, fn: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(symbol);
    const next = (prev ? prev.then(fn) : fn()).catch((err) => {
      this.d.logger.error({ err, symbol }, 'alert rules: persisting a tick failed');
    });
    this.chains.set(symbol, next);
    void next.then(() => {
      if (this.chains.get(symbol) === next) this.chains.delete(symbol);
    });
    return next;
  }

  private async persist(tick: Tick, fired: IndexedRule[], rearmedIds: string[], received: number): Promise<void> {
    const events: AlertSyncEvent[] = [];
    if (rearmedIds.length) {
      const changed = await this.d.store.rearm(rearmedIds);
      for (const id of changed) events.push({ t: 'state', id, active: true, armed: true });
    }
    const at = new Date();
    await Promise.all(
      fired.map(async (rule) => {
        const outcome = await this.fire(rule, tick, at, received);
        if (outcome === 'fired') events.push({ t: 'state', id: rule.id, active: rule.repeat, armed: false });
        else if (outcome === 'failed') {
          // Neither claimed nor notified (one transaction): Postgres still has it armed, so this node
          // does too, and the next tick past the threshold tries again.
          if (!this.index.get(rule.id) || !this.index.get(rule.id)!.armed) this.index.upsert({ ...rule, armed: true });
        } else if (outcome === 'lost') {
          // Another node fired it first, or it was deleted: drop it here if it is gone for good.
          this.counters.lostClaims++;
          const s = await this.d.store.state(rule.id);
          if (!s || !s.active) this.index.remove(rule.id);
        }
      }),
    );
    if (!events.length) return;
    // A reload running now read Postgres maybe before these writes: replay them onto its index.
    if (this.buffered) this.buffered.push(...events);
    await this.broadcast(events);
  }

  /** Claims the rule and publishes its notification in one transaction; retries transient failures. */
  private async fire(rule: IndexedRule, tick: Tick, at: Date, received: number): Promise<'fired' | 'lost' | 'failed'> {
    const payload = priceAlertPayload(rule, tick, this.names.get(rule.symbol));
    for (let attempt = 1; ; attempt++) {
      let lost = false;
      try {
        await this.d.notify(rule.userId, payload, async (tx) => {
          if (!(await this.d.store.claimFire(rule.id, rule.repeat, at, tx))) {
            lost = true;
            throw new ClaimLost();
          }
        });
        this.counters.notified++;
        this.d.onNotified?.({ ruleId: rule.id, userId: rule.userId, symbol: rule.symbol, latencyMs: performance.now() - received });
        return 'fired';
      } catch (err) {
        if (lost) return 'lost';
        const code = (err as { code?: unknown }).code;
        const transient = code === 'QIAO_UNAVAILABLE' || code === undefined;
        if (!transient || attempt >= NOTIFY_ATTEMPTS || this.closed) {
          this.counters.notifyFailures++;
          this.d.logger.error({ err, ruleId: rule.id, userId: rule.userId, symbol: rule.symbol }, 'price alert crossed but its notification could not be published');
          return 'failed';
        }
        await new Promise((r) => setTimeout(r, 100 * 4 ** (attempt - 1)));
      }
    }
  }

  private async broadcast(events: AlertSyncEvent[]): Promise<void> {
    try {
      await this.d.sync.publish({ from: this.d.nodeId, events });
    } catch (err) {
      // Other nodes catch up at their next claim or reload.
      this.d.logger.warn({ err, events: events.length }, 'alert rules: broadcast failed');
    }
  }

  private applyRemote(msg: AlertSyncMessage): void {
    if (msg.from === this.d.nodeId || !Array.isArray(msg.events)) return;
    for (const ev of msg.events) this.record(ev);
  }

  /** Applies an event now, and again to the index a running reload is building. */
  private record(ev: AlertSyncEvent): void {
    this.buffered?.push(ev);
    this.apply(ev);
  }

  private apply(ev: AlertSyncEvent): void {
    switch (ev.t) {
      case 'upsert':
        this.index.upsert(ev.rule);
        break;
      case 'delete':
        this.index.remove(ev.id);
        break;
      case 'state':
        this.index.setState(ev.id, ev);
        break;
    }
  }
}

// -------------------------------------------------------------------------------------------------
// Wiring for a hub node (src/app.ts).

/**
 * The engine publishes as this internal principal (never issued as a token), as a trusted server
 * service: `alert` on inbox channels is an internal kind only the server may publish.
 */
export const ALERT_ENGINE_PRINCIPAL: Principal = { id: 'alert-engine', role: 'feed', displayName: '价格提醒 Price alerts' };

/** Publishes through the hub's publisher (stored, archived, on the bus, fanout enqueued) with the claim in its transaction. */
export function publisherNotify(publisher: Pick<Publisher, 'publish'>): AlertNotify {
  return async (userId, payload, inTx) => {
    await publisher.publish(
      ALERT_ENGINE_PRINCIPAL,
      {
        channel: `inbox.${userId}`,
        kind: 'alert',
        payload,
        inTx: async (tx) => {
          await inTx(tx);
        },
      },
      { trusted: true },
    );
  };
}

/** Builds and starts a node's engine: Redis sync in services mode, in-process otherwise (or `sync` given). */
export async function startAlertEngine(
  config: { redisUrl?: string; redisPrefix: string; nodeId: string; alertHysteresisBp: number; alertResyncS: number },
  deps: { store: AlertRulesStore; notify: AlertNotify; logger: AlertEngineDeps['logger'] & { warn(obj: object, msg?: string): void }; onNotified?: AlertEngineDeps['onNotified'] },
  sync?: AlertSync,
): Promise<{ engine: AlertEngine; close(): Promise<void> }> {
  let own: AlertSync | undefined;
  if (!sync) {
    if (config.redisUrl) {
      const { RedisAlertSync } = await import('./alert-sync-redis.ts');
      own = new RedisAlertSync({ url: config.redisUrl, prefix: config.redisPrefix, logger: deps.logger });
    } else {
      const { MemoryAlertSync } = await import('./alert-sync.ts');
      own = new MemoryAlertSync();
    }
  }
  const engine = new AlertEngine({
    ...deps,
    sync: sync ?? own!,
    nodeId: config.nodeId,
    hysteresisBp: config.alertHysteresisBp,
    resyncS: config.alertResyncS,
  });
  try {
    await engine.start();
  } catch (e) {
    await own?.close();
    throw e;
  }
  return {
    engine,
    async close() {
      await engine.close();
      await own?.close();
    },
  };
}
