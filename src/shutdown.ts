/**
 * Graceful shutdown of a long-running process (hub `start`, `worker`) with close-with-grace:
 * - SIGTERM / SIGINT (and SIGHUP, SIGQUIT…): `close()` runs once, then the process exits 0 (1 if it threw);
 * - a second signal while closing: exit 1 at once (an operator pressing Ctrl-C twice means it);
 * - closing takes longer than QIAO_SHUTDOWN_TIMEOUT_MS: exit 1;
 * - an uncaught exception: logged, `close()` runs, exit 1 (the process state is unknown after one).
 *
 * Unhandled promise REJECTIONS are not fatal here, unlike close-with-grace's default: a rejection from
 * a dependency that went away (a Redis command failing during a restart, a Postgres connection cut)
 * must not take the process down — it has to outlive its dependencies' outages, and every path that can
 * fail there reports QIAO_UNAVAILABLE and retries on its own. They are logged and the process keeps running.
 */
import closeWithGrace from 'close-with-grace';

export interface ShutdownLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ShutdownOptions {
  logger: ShutdownLogger;
  timeoutMs: number;
  /** Releases everything (drain, close workers, connections). */
  close(reason: { signal?: string; err?: Error }): Promise<void>;
}

export function installShutdown(opts: ShutdownOptions): { close(): void; uninstall(): void } {
  const { logger } = opts;
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled promise rejection (process keeps running)'));
  return closeWithGrace(
    {
      delay: opts.timeoutMs,
      logger: false,
      skip: ['unhandledRejection'],
      onSecondSignal: (signal) => logger.error({ signal }, 'second signal while closing: exiting now'),
      onSecondError: (err) => logger.error({ err }, 'uncaught error while closing: exiting now'),
      onTimeout: (delay) => logger.error({ timeoutMs: delay }, 'shutdown timed out (QIAO_SHUTDOWN_TIMEOUT_MS): exiting now'),
    },
    async ({ signal, err }) => {
      if (err) logger.error({ err }, 'uncaught exception: closing, then exiting 1');
      else logger.info({ signal: signal ?? 'manual' }, 'closing');
      try {
        await opts.close({ signal, err });
      } catch (e) {
        logger.error({ err: e }, 'close failed');
        throw e;
      }
    },
  );
}
