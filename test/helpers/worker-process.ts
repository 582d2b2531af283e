/**
 * Delivery worker processes (`node --import tsx src/main.ts worker [queues]`) for multi-process suites,
 * tracked with the same HubNode wrapper as hub processes (exit info, last output lines, stop()).
 * Resolves once the worker printed "workers running"; rejects (after killing it) if it exits first or
 * does not get there in time. A worker exits by itself when the test runner dies (EXIT_WITH_PARENT).
 */
import { spawn } from 'node:child_process';
import { EXIT_WITH_PARENT, HubNode, REPO_ROOT, childEnv } from './process.ts';

export interface WorkerNodeOptions {
  name: string;
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  jwtSecret: string;
  /** Comma-separated queue names (default: all). */
  queues?: string;
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startWorkerNode(opts: WorkerNodeOptions): Promise<HubNode> {
  const env = childEnv({
    NODE_ENV: 'test',
    DATABASE_URL: opts.databaseUrl,
    REDIS_URL: opts.redisUrl,
    QIAO_REDIS_PREFIX: opts.redisPrefix,
    QIAO_JWT_SECRET: opts.jwtSecret,
    QIAO_NODE_ID: opts.name,
    QIAO_LOG_LEVEL: 'warn',
    QIAO_PG_POOL_SIZE: '4',
    QIAO_SEED_DEMO: 'false',
    ...opts.env,
  });
  const args = ['--import', 'tsx', '--import', EXIT_WITH_PARENT, 'src/main.ts', 'worker', ...(opts.queues ? [opts.queues] : [])];
  const proc = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const node = new HubNode(opts.name, 0, proc);
  const kill = () => proc.kill('SIGKILL');
  process.once('exit', kill);
  void node.exited.then(() => process.off('exit', kill));
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (!node.running) {
      const info = await node.exited;
      throw new Error(`${opts.name} exited during start (code ${info.code}, signal ${info.signal}):\n${node.output()}`);
    }
    if (node.output().includes('workers running')) return node;
    await sleep(100);
  }
  await node.stop(1000);
  throw new Error(`${opts.name} did not report "workers running" in time:\n${node.output()}`);
}
