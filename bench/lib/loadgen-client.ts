/**
 * The benches' side of a load generator child process (node IPC): requests carry an id and are
 * answered by a `reply` with the same id; `log` lines are printed; any other message goes to
 * `onOther`. If the child exits, every pending and later request fails with that exit.
 */
import type { ChildProcess } from 'node:child_process';

interface ReplyMessage {
  type: 'reply';
  rid: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export class LoadgenClient<M extends { type: string }> {
  private rid = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exitError: Error | undefined;

  constructor(
    readonly cp: ChildProcess,
    onOther: (m: M) => void,
  ) {
    cp.on('message', (raw) => {
      const m = raw as M | ReplyMessage | { type: 'log'; line: string };
      if (m.type === 'reply') {
        const r = m as ReplyMessage;
        const p = this.pending.get(r.rid);
        if (!p) return;
        this.pending.delete(r.rid);
        if (r.ok) p.resolve(r.result);
        else p.reject(new Error(`loadgen: ${r.error}`));
      } else if (m.type === 'log') process.stderr.write(`[loadgen] ${(m as { line: string }).line}\n`);
      else onOther(m as M);
    });
    cp.once('exit', (code, sig) => {
      this.exitError = new Error(`load generator exited (code ${code}, signal ${sig})`);
      for (const p of this.pending.values()) p.reject(this.exitError);
      this.pending.clear();
    });
  }

  request<T>(req: { type: string } & Record<string, unknown>, timeoutMs: number): Promise<T> {
    if (this.exitError) return Promise.reject(this.exitError);
    const rid = this.rid++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(rid);
        reject(new Error(`loadgen: no reply to ${String(req.type)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(rid, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.cp.send({ ...req, rid });
    });
  }
}
