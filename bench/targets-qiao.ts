/**
 * Qiao targets for the fanout bench: (c) socket.io gateway, (d) raw WebSocket gateway. To be filled in
 * by the lead; until then this exports nothing and `--targets c,d` reports them as unknown.
 *
 * A target is a `BenchTarget` (bench/lib/types.ts). The client side is ready in bench/lib/qiao-client.ts:
 * `qiaoSocketIoClientHooks()` and `qiaoRawClientHooks()` give setup/connectSubscriber/publish/teardown for
 * the protocol of src/gateway/protocol.ts; they read what they need from the `info` that `start()`
 * returns: { channel, subscriberTokens: string[], publisherToken, publishers?, kind? } (QiaoBenchInfo).
 *
 * Sketch (adjust the env, user provisioning and the socket.io handshake to the real gateway):
 *
 *   import { createTokenService } from '../src/auth/token.ts';
 *   import { startNodeServer } from './lib/proc.ts';
 *   import type { BenchTarget, ServerHandle, StartOptions } from './lib/types.ts';
 *   import { qiaoRawClientHooks, qiaoSocketIoClientHooks, type QiaoBenchInfo } from './lib/qiao-client.ts';
 *
 *   const SECRET = 'bench-secret-bench-secret-bench-secret!';   // ≥ 32 chars
 *   async function startQiao(opts: StartOptions): Promise<ServerHandle> {
 *     const tokens = createTokenService(SECRET, 3600);
 *     const info: QiaoBenchInfo = {
 *       channel: 'research.macro',
 *       // ids must be users the server accepts (seeded demo users, or provision them here first)
 *       subscriberTokens: [(await tokens.issue({ id: '<client uuid>', role: 'client', displayName: 'bench' })).token],
 *       publisherToken: (await tokens.issue({ id: '<research uuid>', role: 'research', displayName: 'desk' })).token,
 *       publishers: 1,
 *     };
 *     return startNodeServer({
 *       script: 'src/main.ts', args: ['start'], cpu: opts.cpu, logFile: opts.logFile, port: opts.port,
 *       env: {
 *         HOST: '127.0.0.1', PORT: String(opts.port), QIAO_JWT_SECRET: SECRET, QIAO_LOG_LEVEL: 'warn',
 *         QIAO_DATA_DIR: <fresh temp dir>,
 *         // the saturated phase must not measure the per-connection command rate limiter:
 *         QIAO_RATE_LIMIT_PER_S: '100000', QIAO_RATE_LIMIT_BURST: '100000',
 *       },
 *       readyTimeoutMs: 60_000,
 *       info: info as unknown as Record<string, unknown>,
 *     });
 *   }
 *
 *   export const qiaoTargets: BenchTarget[] = [
 *     { key: 'c', name: 'Qiao socket.io', start: startQiao, ...qiaoSocketIoClientHooks() },
 *     { key: 'd', name: 'Qiao raw WS', start: startQiao, ...qiaoRawClientHooks() },
 *   ];
 *
 * Keys c and d are what the orchestrator uses for the ratios (c)/(b) and (d)/(a).
 */
import type { BenchTarget } from './lib/types.ts';

export const qiaoTargets: BenchTarget[] = [];
