/**
 * In-memory index of active price-alert rules, per symbol, so a tick finds the rules it triggers
 * without looking at any other rule: O(log n + k) for a symbol with n rules of which k change state.
 * Pure (no I/O, no clock); the engine (alert-engine.ts) persists what it reports.
 *
 * Semantics (documented in docs/push-and-alerts.md):
 * - An `above` rule with threshold P fires on a tick with price ≥ P; a `below` rule on price ≤ P.
 *   The condition is level-based: a rule created while the price is already past its threshold fires
 *   on the next tick (the user asked to be told when the price is there, and it is).
 * - A one-shot rule fires once and is then inactive (removed from the index; the engine sets
 *   `active = false` in Postgres).
 * - A repeat rule fires, then is disarmed until the price crosses back by the hysteresis band:
 *   an `above` rule re-arms on a price < P·(1 − h), a `below` rule on a price > P·(1 + h), with
 *   h = hysteresisBp / 10,000 (default 20 bp = 0.2 %). With h = 0 the price only has to be strictly
 *   back on the other side. The band stops a price hovering at the threshold (1800.00, 1799.99,
 *   1800.00 …) from firing on every wiggle. A rule cannot fire and re-arm on the same tick.
 * - A `move` rule with reference (base) price B and percent p fires on a price ≥ B·(1 + p/100) or
 *   ≤ B·(1 − p/100). It is indexed as two legs, an `above` leg and a `below` leg sharing the rule's id
 *   and state: when one leg fires, the other leaves the armed arrays too. A disarmed repeat move rule
 *   re-arms once the price is back inside the band shrunk by the hysteresis on both sides
 *   (B·(1 − p/100)·(1 + h) < price < B·(1 + p/100)·(1 − h); strictly inside the band when that is empty).
 *   Disarmed move rules are few (repeat rules that just fired), so they are kept in a plain list per
 *   symbol and checked one by one.
 *
 * Layout per symbol: four arrays, each sorted so that the rules a tick changes form a prefix found by
 * binary search, removed with one splice and merged into their new array:
 *   armedAbove    ascending by threshold  — fire the prefix with threshold ≤ price
 *   armedBelow    descending by threshold — fire the prefix with threshold ≥ price
 *   disarmedAbove descending by re-arm level — re-arm the prefix with level > price
 *   disarmedBelow ascending by re-arm level  — re-arm the prefix with level < price
 * `evaluated` counts the comparisons of the binary searches plus the rules moved, i.e. every rule
 * the tick looked at; tests assert it stays far below the number of rules.
 */

export type Direction = 'above' | 'below' | 'move';
/** The side of one threshold: above/below rules have one, move rules one of each. */
export type Side = 'above' | 'below';

/** Largest percent of a move rule (so its lower threshold stays > 0). */
export const MAX_MOVE_PERCENT = 50;

export interface AlertRuleState {
  id: string;
  userId: string;
  symbol: string;
  direction: Direction;
  /** Threshold price (> 0); for a move rule, its reference (base) price. */
  price: number;
  /** Move rules: the move in percent of `price` (0 < percent ≤ MAX_MOVE_PERCENT); null otherwise. */
  percent?: number | null;
  repeat: boolean;
  /** Repeat rules: false between firing and re-arming. One-shot rules in the index are always armed. */
  armed: boolean;
}

/**
 * A rule as held by the index (the same object is returned in results; do not mutate). A move rule is
 * two of these (its legs) sharing id, userId, symbol, price and percent; `byId` holds the above leg.
 */
export interface IndexedRule extends AlertRuleState {
  /** Which way this threshold is crossed. */
  side: Side;
  /** Price the tick is compared with: `price` for above/below rules, B·(1 ± p/100) for a move leg. */
  threshold: number;
  /** Price at which a disarmed repeat rule re-arms (strictly beyond, see the semantics above). */
  rearmAt: number;
  /** Move rules: the other leg. */
  sibling?: IndexedRule;
}

/** Thresholds of a move rule: [above, below]. */
export function moveThresholds(base: number, percent: number): [number, number] {
  return [base * (1 + percent / 100), base * (1 - percent / 100)];
}

export interface TickEvaluation {
  /** Rules whose condition the tick met, in threshold order. One-shot ones are no longer indexed. */
  fired: IndexedRule[];
  /** Repeat rules re-armed by this tick. */
  rearmed: IndexedRule[];
  /** Rules looked at: binary-search probes + rules moved. */
  evaluated: number;
}

interface Book {
  armedAbove: IndexedRule[];
  armedBelow: IndexedRule[];
  disarmedAbove: IndexedRule[];
  disarmedBelow: IndexedRule[];
  /** Disarmed repeat move rules (their above legs), unsorted. */
  disarmedMove: IndexedRule[];
}

const bookEmpty = (b: Book) =>
  !b.armedAbove.length && !b.armedBelow.length && !b.disarmedAbove.length && !b.disarmedBelow.length && !b.disarmedMove.length;

type Key = (r: IndexedRule) => number;
const byPrice: Key = (r) => r.threshold;
const byRearm: Key = (r) => r.rearmAt;

/** Counter passed to the searches so `evaluated` includes their probes. */
interface Probe {
  n: number;
}

/**
 * Length of the prefix of `arr` (sorted ascending by `key` when `asc`, else descending) whose keys
 * are on the near side of `limit`: asc → key < limit (or ≤ when inclusive); desc → key > limit (or ≥).
 */
function prefixLen(arr: IndexedRule[], key: Key, asc: boolean, limit: number, inclusive: boolean, probe: Probe): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const k = key(arr[mid]);
    probe.n++;
    const inPrefix = asc ? (inclusive ? k <= limit : k < limit) : inclusive ? k >= limit : k > limit;
    if (inPrefix) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inserts `items` (any order) into `arr` kept sorted by `key` (asc or desc), after equal keys. */
function insertSorted(arr: IndexedRule[], items: IndexedRule[], key: Key, asc: boolean): IndexedRule[] {
  if (!items.length) return arr;
  const probe: Probe = { n: 0 };
  if (items.length <= 8) {
    for (const it of items) arr.splice(prefixLen(arr, key, asc, key(it), true, probe), 0, it);
    return arr;
  }
  // Many at once (a gap through many thresholds): sort them and merge, O(n + k log k).
  const sorted = items.slice().sort((a, b) => (asc ? key(a) - key(b) : key(b) - key(a)));
  const out: IndexedRule[] = new Array(arr.length + sorted.length);
  let i = 0;
  let j = 0;
  let o = 0;
  while (i < arr.length && j < sorted.length) {
    const a = key(arr[i]);
    const b = key(sorted[j]);
    // Existing rules first on ties (stable, "after equal keys").
    if (asc ? a <= b : a >= b) out[o++] = arr[i++];
    else out[o++] = sorted[j++];
  }
  while (i < arr.length) out[o++] = arr[i++];
  while (j < sorted.length) out[o++] = sorted[j++];
  return out;
}

/** Removes `rule` (by identity) from `arr` sorted by `key`; binary search to its key, then scan equals. */
function removeSorted(arr: IndexedRule[], rule: IndexedRule, key: Key, asc: boolean): boolean {
  const probe: Probe = { n: 0 };
  const k = key(rule);
  for (let i = prefixLen(arr, key, asc, k, false, probe); i < arr.length && key(arr[i]) === k; i++) {
    if (arr[i] === rule) {
      arr.splice(i, 1);
      return true;
    }
  }
  return false;
}

export interface AlertIndexOptions {
  /** Hysteresis band of repeat rules in basis points of the threshold (default 20 = 0.2 %). */
  hysteresisBp?: number;
}

export class AlertIndex {
  private readonly books = new Map<string, Book>();
  private readonly byId = new Map<string, IndexedRule>();
  private readonly h: number;

  constructor(opts: AlertIndexOptions = {}) {
    const bp = opts.hysteresisBp ?? 20;
    if (!(bp >= 0 && bp < 10_000)) throw new RangeError('hysteresisBp must be in [0, 10000)');
    this.h = bp / 10_000;
  }

  /** Rules indexed (active ones). */
  get size(): number {
    return this.byId.size;
  }

  /** Symbols with at least one indexed rule. */
  get symbolCount(): number {
    return this.books.size;
  }

  get(id: string): IndexedRule | undefined {
    return this.byId.get(id);
  }

  /** Rule count of one symbol. */
  countFor(symbol: string): number {
    const b = this.books.get(symbol);
    if (!b) return 0;
    // Count rules, not legs: an armed move rule has a leg in each armed array.
    const armedMoves = b.armedAbove.reduce((n, r) => n + (r.sibling ? 1 : 0), 0);
    return b.armedAbove.length + b.armedBelow.length - armedMoves + b.disarmedAbove.length + b.disarmedBelow.length + b.disarmedMove.length;
  }

  private rearmLevel(side: Side, threshold: number): number {
    return side === 'above' ? threshold * (1 - this.h) : threshold * (1 + this.h);
  }

  /** Whether `price` re-arms the disarmed move rule whose above leg is `up`. */
  private moveRearms(up: IndexedRule, price: number): boolean {
    const down = up.sibling!;
    const lo = down.rearmAt;
    const hi = up.rearmAt;
    return lo < hi ? price > lo && price < hi : price > down.threshold && price < up.threshold;
  }

  private book(symbol: string): Book {
    let b = this.books.get(symbol);
    if (!b) {
      b = { armedAbove: [], armedBelow: [], disarmedAbove: [], disarmedBelow: [], disarmedMove: [] };
      this.books.set(symbol, b);
    }
    return b;
  }

  private place(b: Book, r: IndexedRule): void {
    if (r.sibling) {
      if (r.armed) {
        b.armedAbove = insertSorted(b.armedAbove, [r], byPrice, true);
        b.armedBelow = insertSorted(b.armedBelow, [r.sibling], byPrice, false);
      } else b.disarmedMove.push(r);
      return;
    }
    if (r.side === 'above') {
      if (r.armed) b.armedAbove = insertSorted(b.armedAbove, [r], byPrice, true);
      else b.disarmedAbove = insertSorted(b.disarmedAbove, [r], byRearm, false);
    } else if (r.armed) b.armedBelow = insertSorted(b.armedBelow, [r], byPrice, false);
    else b.disarmedBelow = insertSorted(b.disarmedBelow, [r], byRearm, true);
  }

  private unplace(r: IndexedRule): void {
    const b = this.books.get(r.symbol);
    if (!b) return;
    if (r.sibling) {
      if (r.armed) {
        removeSorted(b.armedAbove, r, byPrice, true);
        removeSorted(b.armedBelow, r.sibling, byPrice, false);
      } else {
        const i = b.disarmedMove.indexOf(r);
        if (i >= 0) b.disarmedMove.splice(i, 1);
      }
    } else if (r.side === 'above') {
      if (r.armed) removeSorted(b.armedAbove, r, byPrice, true);
      else removeSorted(b.disarmedAbove, r, byRearm, false);
    } else if (r.armed) removeSorted(b.armedBelow, r, byPrice, false);
    else removeSorted(b.disarmedBelow, r, byRearm, true);
    if (bookEmpty(b)) this.books.delete(r.symbol);
  }

  /** Adds an active rule, or replaces the rule with the same id (its symbol, price or state may differ). */
  upsert(rule: AlertRuleState): void {
    if (!(rule.price > 0) || !Number.isFinite(rule.price)) throw new RangeError(`rule ${rule.id}: price must be a positive number`);
    const move = rule.direction === 'move';
    if (move && !(typeof rule.percent === 'number' && rule.percent > 0 && rule.percent <= MAX_MOVE_PERCENT)) {
      throw new RangeError(`rule ${rule.id}: a move rule needs 0 < percent <= ${MAX_MOVE_PERCENT}`);
    }
    this.remove(rule.id);
    const leg = (side: Side, threshold: number): IndexedRule => ({
      id: rule.id,
      userId: rule.userId,
      symbol: rule.symbol,
      direction: rule.direction,
      price: rule.price,
      percent: move ? rule.percent : null,
      repeat: rule.repeat,
      // A one-shot rule is either armed or gone.
      armed: rule.repeat ? rule.armed : true,
      side,
      threshold,
      rearmAt: this.rearmLevel(side, threshold),
    });
    let r: IndexedRule;
    if (move) {
      const [upper, lower] = moveThresholds(rule.price, rule.percent!);
      r = leg('above', upper);
      const down = leg('below', lower);
      r.sibling = down;
      down.sibling = r;
    } else r = leg(rule.direction as Side, rule.price);
    this.byId.set(r.id, r);
    this.place(this.book(r.symbol), r);
  }

  remove(id: string): boolean {
    const r = this.byId.get(id);
    if (!r) return false;
    this.unplace(r);
    this.byId.delete(id);
    return true;
  }

  /** Applies a state learned elsewhere (another node, the database): inactive removes the rule. */
  setState(id: string, state: { active: boolean; armed: boolean }): void {
    const r = this.byId.get(id);
    if (!r) return;
    if (!state.active) {
      this.remove(id);
      return;
    }
    const armed = r.repeat ? state.armed : true;
    if (armed === r.armed) return;
    this.unplace(r);
    r.armed = armed;
    if (r.sibling) r.sibling.armed = armed;
    this.place(this.book(r.symbol), r);
  }

  /** Drops every rule (before a reload). */
  clear(): void {
    this.books.clear();
    this.byId.clear();
  }

  /**
   * Evaluates one tick and applies the transitions to the index: fired one-shot rules are removed,
   * fired repeat rules disarmed, re-armed repeat rules armed again.
   */
  evaluate(symbol: string, price: number): TickEvaluation {
    const b = this.books.get(symbol);
    if (!b || !(price > 0) || !Number.isFinite(price)) return { fired: [], rearmed: [], evaluated: 0 };
    const probe: Probe = { n: 0 };

    // Re-arm first (these rules cannot fire on this tick: re-arming needs the price beyond the band
    // on the far side of the threshold).
    const nUp = prefixLen(b.disarmedAbove, byRearm, false, price, false, probe);
    const nDown = prefixLen(b.disarmedBelow, byRearm, true, price, false, probe);
    const nFireUp = prefixLen(b.armedAbove, byPrice, true, price, true, probe);
    const nFireDown = prefixLen(b.armedBelow, byPrice, false, price, true, probe);

    const rearmedUp = nUp ? b.disarmedAbove.splice(0, nUp) : [];
    const rearmedDown = nDown ? b.disarmedBelow.splice(0, nDown) : [];
    const firedUp = nFireUp ? b.armedAbove.splice(0, nFireUp) : [];
    const firedDown = nFireDown ? b.armedBelow.splice(0, nFireDown) : [];

    // Disarmed move rules re-arm inside their band, where neither leg can fire on this tick.
    const rearmedMove: IndexedRule[] = [];
    if (b.disarmedMove.length) {
      probe.n += b.disarmedMove.length;
      b.disarmedMove = b.disarmedMove.filter((r) => {
        if (!this.moveRearms(r, price)) return true;
        rearmedMove.push(r);
        return false;
      });
    }

    for (const r of rearmedUp) r.armed = true;
    for (const r of rearmedDown) r.armed = true;
    if (rearmedUp.length) b.armedAbove = insertSorted(b.armedAbove, rearmedUp, byPrice, true);
    if (rearmedDown.length) b.armedBelow = insertSorted(b.armedBelow, rearmedDown, byPrice, false);
    for (const r of rearmedMove) {
      r.armed = true;
      r.sibling!.armed = true;
      this.place(b, r);
    }

    const disarmUp: IndexedRule[] = [];
    const disarmDown: IndexedRule[] = [];
    const onFired = (r: IndexedRule, disarm: IndexedRule[]) => {
      if (r.sibling) {
        // A move leg: its sibling is on the other side of the price, so still armed: take it out too.
        if (r.side === 'above') removeSorted(b.armedBelow, r.sibling, byPrice, false);
        else removeSorted(b.armedAbove, r.sibling, byPrice, true);
        if (r.repeat) {
          r.armed = false;
          r.sibling.armed = false;
          b.disarmedMove.push(r.side === 'above' ? r : r.sibling);
        } else this.byId.delete(r.id);
        return;
      }
      if (r.repeat) {
        r.armed = false;
        disarm.push(r);
      } else this.byId.delete(r.id);
    };
    for (const r of firedUp) onFired(r, disarmUp);
    for (const r of firedDown) onFired(r, disarmDown);
    if (disarmUp.length) b.disarmedAbove = insertSorted(b.disarmedAbove, disarmUp, byRearm, false);
    if (disarmDown.length) b.disarmedBelow = insertSorted(b.disarmedBelow, disarmDown, byRearm, true);
    if (bookEmpty(b)) this.books.delete(symbol);

    const fired = firedUp.length && firedDown.length ? firedUp.concat(firedDown) : firedUp.length ? firedUp : firedDown;
    const rearmed = rearmedUp.concat(rearmedDown, rearmedMove);
    return { fired, rearmed, evaluated: probe.n + fired.length + rearmed.length };
  }
}
