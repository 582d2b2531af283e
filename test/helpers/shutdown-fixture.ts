/**
 * A minimal long-running process with the production shutdown (src/shutdown.ts), for
 * test/integration/shutdown.test.ts: `throw` raises an uncaught exception, `reject` leaves a promise
 * rejection unhandled (what a dependency outage produces), `idle` only waits for signals.
 */
import { pino } from 'pino';
import { installShutdown } from '../../src/shutdown.ts';

const mode = process.argv[2] ?? 'idle';
const logger = pino();
installShutdown({
  logger,
  timeoutMs: 2000,
  close: async () => {
    logger.info({}, 'fixture closed');
  },
});
setInterval(() => {}, 1000);
if (mode === 'throw') setTimeout(() => {
  throw new Error('fixture boom');
}, 50);
if (mode === 'reject') setTimeout(() => void Promise.reject(new Error('dependency gone')), 50);
process.stdout.write('fixture ready\n');
