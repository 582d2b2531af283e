/**
 * Stored messages for the delivery workers, by id: concurrent reads in one event-loop turn share one
 * query (a batch of 64 push jobs for one alert is one SELECT, not 64), and found messages are kept in
 * a small LRU (a research note mailed to 100,000 users is read once). Misses are not cached: a
 * message may not be committed yet when its first job runs. Messages are immutable once stored.
 */
import type { MessageRow } from '../src/store/recipients-repo.ts';
import { Coalescer } from './coalesce.ts';

export function messageLoader(load: (ids: string[]) => Promise<MessageRow[]>, max = 256): (id: string) => Promise<MessageRow | undefined> {
  const lru = new Map<string, MessageRow>();
  const batch = new Coalescer(async (ids: string[]) => {
    const rows = await load([...new Set(ids)]);
    return new Map(rows.map((r) => [r.id, r]));
  });
  return async (id) => {
    const hit = lru.get(id);
    if (hit) {
      lru.delete(id);
      lru.set(id, hit);
      return hit;
    }
    const row = await batch.get(id);
    if (row) {
      lru.set(id, row);
      if (lru.size > max) lru.delete(lru.keys().next().value as string);
    }
    return row;
  };
}
