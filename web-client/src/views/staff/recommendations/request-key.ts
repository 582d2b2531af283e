/**
 * An Idempotency-Key for one form submission: made fresh when the form's content changes, and reused
 * when the same submission is retried (after a network error), so the server does the work once.
 * crypto.randomUUID needs a secure context; elsewhere a time-and-random key does.
 */
export function requestKey(): string {
  return typeof crypto !== 'undefined' && 'randomUUID' in crypto ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}
