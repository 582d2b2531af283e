/**
 * Cleanup of servers a test started itself (private Postgres, Redis, Redis Cluster), shared by their
 * helpers: what is still registered in `liveCleanups` when the runner exits is stopped by one exit hook;
 * `pidAlive` tells a stale run's leftovers (their runner is gone) from a live run's.
 */

/** Synchronous cleanups of servers still running; each helper adds its own and removes it on close. */
export const liveCleanups = new Set<() => void>();

let exitHookInstalled = false;

export function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of [...liveCleanups]) {
      try {
        c();
      } catch {
        /* best effort */
      }
    }
  });
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
