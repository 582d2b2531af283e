/**
 * The shutdown policy of every long-running process (src/shutdown.ts), on a real child process: an
 * uncaught exception is logged, the process closes and exits 1; an unhandled promise rejection (a
 * dependency outage) is logged and the process keeps running, and still closes with 0 on SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/process.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fixture(mode: string): { proc: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/shutdown-fixture.ts', mode], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  proc.stdout!.on('data', (b: Buffer) => (text += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (text += b.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, out: () => text, exited };
}

async function ready(f: ReturnType<typeof fixture>): Promise<void> {
  for (let i = 0; i < 300 && !f.out().includes('fixture ready'); i++) await sleep(50);
  expect(f.out()).toContain('fixture ready');
}

describe('shutdown policy (close-with-grace)', () => {
  it('an uncaught exception is logged, then the process closes and exits 1', async () => {
    const f = fixture('throw');
    const code = await f.exited;
    expect(code, f.out()).toBe(1);
    expect(f.out()).toContain('uncaught exception: closing, then exiting 1');
    expect(f.out()).toContain('fixture boom');
    expect(f.out()).toContain('fixture closed');
  }, 30_000);

  it('an unhandled rejection is logged and the process keeps running; SIGTERM still closes it with 0', async () => {
    const f = fixture('reject');
    await ready(f);
    await sleep(800);
    expect(f.proc.exitCode).toBeNull();
    expect(f.out()).toContain('unhandled promise rejection (process keeps running)');
    expect(f.out()).toContain('dependency gone');
    f.proc.kill('SIGTERM');
    expect(await f.exited, f.out()).toBe(0);
    expect(f.out()).toContain('fixture closed');
  }, 30_000);
});
