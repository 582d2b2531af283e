/**
 * Preloaded (`node --import`) into every process the bench spawns: exit when the orchestrator goes away.
 * The orchestrator holds the write end of our stdin pipe; when it dies (even by SIGKILL) the pipe closes
 * and we get 'end', so no server or load generator outlives a crashed bench. Does nothing on a TTY.
 */
if (!process.stdin.isTTY) {
  const bye = () => process.exit(0);
  process.stdin.on('end', bye);
  process.stdin.on('close', bye);
  process.stdin.on('error', bye);
  process.stdin.resume();
  // Do not keep the event loop alive just for this watch.
  (process.stdin as unknown as { unref?: () => void }).unref?.();
}
export {};
