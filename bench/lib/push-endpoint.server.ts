/**
 * Child process of bench/push.bench.ts: the local HTTPS push service (test/helpers/push-endpoint.ts),
 * with N browser subscriptions whose private keys it keeps, so it can verify VAPID and decrypt.
 *
 * IPC: sends { t: 'ready', port, cert, subs } once listening; answers { t: 'stats' } with
 * { t: 'stats', requests, verified, errors, firstErrors }.
 *
 * env: BENCH_SUBS (default 1000), BENCH_VERIFY_EVERY (verify + decrypt every Nth request; default 1).
 */
import { PushEndpoint } from '../../test/helpers/push-endpoint.ts';

const subsN = Number(process.env.BENCH_SUBS ?? 1000);
const verifyEvery = Number(process.env.BENCH_VERIFY_EVERY ?? 1);

const ep = await new PushEndpoint(undefined, { verifyEvery }).start();
const subs = Array.from({ length: subsN }, (_, i) => ep.subscription(`s${i}`));

// Keep memory flat over long runs: the bench only needs counts.
const received = ep.received;
let verified = 0;
setInterval(() => {
  verified += received.length;
  received.length = 0;
}, 200).unref();

process.on('message', (m: { t?: string }) => {
  if (m?.t === 'stats') {
    verified += received.length;
    received.length = 0;
    process.send?.({ t: 'stats', requests: ep.requests, verified, errors: ep.errors.length, firstErrors: ep.errors.slice(0, 3) });
  }
});
process.send?.({ t: 'ready', port: Number(new URL(ep.origin).port), cert: ep.cert.cert, subs });
