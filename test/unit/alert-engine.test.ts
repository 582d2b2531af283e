/**
 * The alert engine with an in-memory store standing in for Postgres (its conditional UPDATEs) and a
 * fake publisher: claim and notification are atomic, lost claims and failed publishes leave the index
 * consistent with the store, other nodes learn transitions through the sync, back-pressure holds.
 */
import { describe, expect, it } from 'vitest';
import { AlertEngine, type AlertNotify, type AlertRulesStore, type PriceAlertPayload } from '../../src/domain/alert-engine.ts';
import type { AlertRuleState } from '../../src/domain/alert-index.ts';
import { MemoryAlertSync } from '../../src/domain/alert-sync.ts';
import { QiaoError } from '../../src/errors/codes.ts';

interface Row extends AlertRuleState {
  active: boolean;
}

/** Postgres stand-in: a claim inside a failed transaction is rolled back. */
class FakeStore implements AlertRulesStore {
  readonly rows = new Map<string, Row>();
  add(r: Omit<Row, 'active' | 'armed'> & Partial<Row>): Row {
    const row = { active: true, armed: true, ...r };
    this.rows.set(row.id, row);
    return row;
  }
  async *allActive() {
    yield [...this.rows.values()].filter((r) => r.active).map((r) => ({ ...r }));
  }
  async claimFire(id: string, repeat: boolean, _at: Date, tx?: unknown) {
    const r = this.rows.get(id);
    if (!r || !r.active || !r.armed) return null;
    const before = { ...r };
    if (repeat) r.armed = false;
    else Object.assign(r, { active: false, armed: false });
    (tx as { undo: Array<() => void> } | undefined)?.undo.push(() => Object.assign(r, before));
    return new Date();
  }
  async rearm(ids: string[]) {
    const out = [];
    for (const id of ids) {
      const r = this.rows.get(id);
      if (r?.active && !r.armed) {
        r.armed = true;
        out.push(id);
      }
    }
    return out;
  }
  async state(id: string) {
    const r = this.rows.get(id);
    return r ? { active: r.active, armed: r.armed } : undefined;
  }
}

/** Publisher stand-in: runs inTx in a "transaction" that is undone when the publish fails. */
function fakeNotify(opts: { failTimes?: number; gate?: Promise<void> } = {}) {
  const sent: Array<{ userId: string; payload: PriceAlertPayload }> = [];
  let fails = opts.failTimes ?? 0;
  const notify: AlertNotify = async (userId, payload, inTx) => {
    await opts.gate;
    const tx = { undo: [] as Array<() => void> };
    try {
      await inTx(tx);
      if (fails-- > 0) throw new QiaoError('QIAO_UNAVAILABLE');
      sent.push({ userId, payload });
    } catch (e) {
      for (const u of tx.undo.reverse()) u();
      throw e;
    }
  };
  return { notify, sent };
}

const logger = { info() {}, warn() {}, error() {} };

function engine(store: FakeStore, notify: AlertNotify, extra: { sync?: MemoryAlertSync; nodeId?: string; maxPending?: number } = {}) {
  return new AlertEngine({ store, notify, sync: extra.sync ?? new MemoryAlertSync(), logger, nodeId: extra.nodeId ?? 'n1', hysteresisBp: 20, resyncS: 0, maxPending: extra.maxPending });
}

describe('AlertEngine', () => {
  it('claims and notifies in one transaction, then the rule is inactive everywhere', async () => {
    const store = new FakeStore();
    store.add({ id: 'r1', userId: 'u1', symbol: '600519.SH', direction: 'above', price: 1800, repeat: false });
    const { notify, sent } = fakeNotify();
    const e = engine(store, notify);
    await e.start();
    const r = await e.ingest([{ symbol: '600519.SH', price: 1801, name: '贵州茅台' }]);
    expect(r).toMatchObject({ ticks: 1, fired: 1 });
    await e.flush();
    expect(sent).toHaveLength(1);
    expect(sent[0].payload.title).toBe('贵州茅台 600519.SH 突破 1800.00');
    expect(store.rows.get('r1')).toMatchObject({ active: false });
    expect(e.rules.get('r1')).toBeUndefined();
    expect(e.stats).toMatchObject({ notified: 1, lostClaims: 0, pending: 0 });
    await e.close();
  });

  it('a failed publish rolls the claim back; the rule stays armed and fires on a later tick', async () => {
    const store = new FakeStore();
    store.add({ id: 'r1', userId: 'u1', symbol: '000001.SZ', direction: 'below', price: 10, repeat: true });
    const { notify, sent } = fakeNotify({ failTimes: 3 });
    const e = engine(store, notify);
    await e.start();
    await e.ingest([{ symbol: '000001.SZ', price: 9.9 }]);
    await e.flush();
    expect(sent).toHaveLength(0);
    expect(e.stats.notifyFailures).toBe(1);
    expect(store.rows.get('r1')).toMatchObject({ active: true, armed: true });
    expect(e.rules.get('r1')?.armed).toBe(true);
    await e.ingest([{ symbol: '000001.SZ', price: 9.8 }]);
    await e.flush();
    expect(sent).toHaveLength(1);
    expect(store.rows.get('r1')?.armed).toBe(false);
    await e.close();
  });

  it('a lost claim (fired elsewhere, or deleted) publishes nothing and drops a rule that is gone', async () => {
    const store = new FakeStore();
    store.add({ id: 'gone', userId: 'u1', symbol: '600000.SH', direction: 'above', price: 5, repeat: true });
    store.add({ id: 'elsewhere', userId: 'u2', symbol: '600000.SH', direction: 'above', price: 5, repeat: true });
    const { notify, sent } = fakeNotify();
    const e = engine(store, notify);
    await e.start();
    store.rows.delete('gone');
    store.rows.get('elsewhere')!.armed = false;
    await e.ingest([{ symbol: '600000.SH', price: 6 }]);
    await e.flush();
    expect(sent).toHaveLength(0);
    expect(e.stats.lostClaims).toBe(2);
    expect(e.rules.get('gone')).toBeUndefined();
    expect(e.rules.get('elsewhere')).toMatchObject({ armed: false });
    await e.close();
  });

  it('two nodes sharing the store and the sync: one firing per crossing, and each learns the other’s transitions', async () => {
    const store = new FakeStore();
    store.add({ id: 'r', userId: 'u1', symbol: '300750.SZ', direction: 'above', price: 200, repeat: true });
    const sync = new MemoryAlertSync();
    const { notify, sent } = fakeNotify();
    const a = engine(store, notify, { sync, nodeId: 'a' });
    const b = engine(store, notify, { sync, nodeId: 'b' });
    await Promise.all([a.start(), b.start()]);
    await Promise.all([a.ingest([{ symbol: '300750.SZ', price: 201 }]), b.ingest([{ symbol: '300750.SZ', price: 201 }])]);
    await Promise.all([a.flush(), b.flush()]);
    expect(sent).toHaveLength(1);
    expect(a.stats.lostClaims + b.stats.lostClaims).toBe(1);
    // Re-armed on b; a hears it and fires the next crossing.
    await b.ingest([{ symbol: '300750.SZ', price: 199 }]);
    await b.flush();
    await new Promise((r) => setTimeout(r, 0));
    expect(a.rules.get('r')?.armed).toBe(true);
    await a.ingest([{ symbol: '300750.SZ', price: 200.5 }]);
    await a.flush();
    expect(sent).toHaveLength(2);
    // Rules created and deleted on one node reach the other.
    await a.ruleCreated({ id: 'new', userId: 'u3', symbol: '300750.SZ', direction: 'below', price: 150, repeat: false, armed: true });
    await new Promise((r) => setTimeout(r, 0));
    expect(b.rules.get('new')).toBeDefined();
    await b.ruleDeleted('new');
    await new Promise((r) => setTimeout(r, 0));
    expect(a.rules.get('new')).toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  });

  it('holds ingest back while more than maxPending firings wait to be published', async () => {
    const store = new FakeStore();
    for (let i = 0; i < 5; i++) store.add({ id: `r${i}`, userId: 'u', symbol: `60000${i}.SH`, direction: 'above', price: 1, repeat: false });
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const { notify, sent } = fakeNotify({ gate });
    const e = engine(store, notify, { maxPending: 2 });
    await e.start();
    let answered = false;
    const p = e.ingest([0, 1, 2, 3, 4].map((i) => ({ symbol: `60000${i}.SH`, price: 2 }))).then(() => (answered = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(answered).toBe(false);
    expect(e.stats.pending).toBe(5);
    open();
    await p;
    await e.flush();
    expect(sent).toHaveLength(5);
    await e.close();
  });
});
