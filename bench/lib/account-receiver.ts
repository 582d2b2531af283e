/**
 * A receiver process of the account-events bench (bench/account-events.bench.ts): holds its share of
 * the client sockets, like separate client devices would, so the load generator's own work and GC
 * pauses are not added to the latencies. Talks to the bench over node IPC:
 *
 *   bench → { t: 'connect', bases, clients: [{ id, token }] }   reply { t: 'ready', count }
 *   bench → { t: 'measure', on }                                 (latencies of events 'm-…' while on)
 *   bench → { t: 'report' }                                      reply { t: 'report', received, latencies, slow, pauses }
 *
 * latency = receipt time at the socket − the event's `time` (the wall time its batch was sent; one machine,
 * one clock).
 */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { io as ioConnect, type Socket } from 'socket.io-client';

type FromBench =
  | { t: 'connect'; bases: string[]; clients: Array<{ id: string; token: string }>; offset: number }
  | { t: 'measure'; on: boolean }
  | { t: 'report' };

const sockets: Socket[] = [];
const latencies: number[] = [];
let received = 0;
let measuring = false;
/** While measuring: socket messages over 50 ms [wall time of receipt, latency], and this process's GC pauses [wall start, ms]. */
const slow: Array<[number, number]> = [];
const pauses: Array<[number, number]> = [];
new PerformanceObserver((list) => {
  if (!measuring) return;
  for (const e of list.getEntries()) pauses.push([performance.timeOrigin + e.startTime, e.duration]);
}).observe({ entryTypes: ['gc'] });

async function connect(bases: string[], clients: Array<{ id: string; token: string }>, offset: number): Promise<void> {
  for (let i = 0; i < clients.length; i += 100) {
    await Promise.all(
      clients.slice(i, i + 100).map(async (c, k) => {
        const s = ioConnect(bases[(offset + i + k) % bases.length], { path: '/socket.io/', transports: ['websocket'], auth: { token: c.token }, reconnection: false, forceNew: true });
        sockets.push(s);
        s.on('push', (p: unknown) => {
          const now = Date.now();
          for (const one of (Array.isArray(p) ? p : [p]) as Array<{ t: string; payload?: { time?: string; eventId?: string } }>) {
            if (one.t !== 'msg' || !one.payload?.time) continue;
            received++;
            if (measuring && one.payload.eventId?.startsWith('m-')) {
              const ms = now - Date.parse(one.payload.time);
              latencies.push(ms);
              if (ms > 50) slow.push([now, ms]);
            }
          }
        });
        await new Promise<void>((resolve, reject) => {
          s.once('connect', () => resolve());
          s.once('connect_error', reject);
        });
        const r = (await s.timeout(10_000).emitWithAck('cmd', { op: 'subscribe', channel: `account.${c.id}`, id: 1 })) as { ok: boolean };
        if (!r.ok) throw new Error(`subscribe refused: ${JSON.stringify(r)}`);
      }),
    );
  }
}

process.on('message', (m: FromBench) => {
  if (m.t === 'connect') {
    connect(m.bases, m.clients, m.offset).then(
      () => process.send?.({ t: 'ready', count: sockets.length }),
      (e: unknown) => process.send?.({ t: 'error', message: e instanceof Error ? e.message : String(e) }),
    );
  } else if (m.t === 'measure') {
    measuring = m.on;
  } else if (m.t === 'report') {
    process.send?.({ t: 'report', received, latencies, slow, pauses });
  }
});
process.on('disconnect', () => {
  for (const s of sockets) s.disconnect();
  process.exit(0);
});
