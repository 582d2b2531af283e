/**
 * REST calls of the web client. JSON in and out, `Authorization: Bearer <token>`; errors come back as
 * `{ error: { code, message } }` and are thrown as ApiError carrying the code. A failed fetch (network)
 * becomes QIAO_UNAVAILABLE.
 */
import type { PublicationFrame } from '../../src/gateway/protocol.ts';

export interface User {
  id: string;
  login: string;
  role: string;
  displayName: string;
  tier?: string | null;
  riskLevel?: string | null;
}

export interface LoginResult {
  token: string;
  expiresAt: string;
  user: User;
}

export interface Channel {
  name: string;
  family: string;
  title: { zh: string; en: string };
  entitled: boolean;
  subscribed: boolean;
  canPublish: boolean;
}

export interface Subscription {
  channel: string;
  createdAt: string;
}

export interface PublishResult {
  channel: string;
  id: string;
  offset: number;
}

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export class Api {
  constructor(
    private readonly getToken: () => string | null,
    private readonly base = '',
  ) {}

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = this.getToken();
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiError('QIAO_UNAVAILABLE', e instanceof Error ? e.message : 'Network error', 0);
    }
    if (res.status === 204) return undefined as T;
    let data: unknown = null;
    const text = await res.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!res.ok) {
      const err = (data as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      const code = typeof err?.code === 'string' ? err.code : res.status >= 500 ? 'QIAO_UNAVAILABLE' : 'QIAO_BAD_REQUEST';
      throw new ApiError(code, typeof err?.message === 'string' ? err.message : res.statusText, res.status);
    }
    return data as T;
  }

  login(login: string, password: string): Promise<LoginResult> {
    return this.request('POST', '/api/auth/login', { login, password });
  }

  me(): Promise<User> {
    return this.request('GET', '/api/me');
  }

  async channels(): Promise<Channel[]> {
    return (await this.request<{ channels: Channel[] }>('GET', '/api/channels')).channels;
  }

  async subscriptions(): Promise<Subscription[]> {
    return (await this.request<{ subscriptions: Subscription[] }>('GET', '/api/subscriptions')).subscriptions;
  }

  subscribe(channel: string): Promise<{ channel: string }> {
    return this.request('PUT', `/api/subscriptions/${encodeURIComponent(channel)}`, {});
  }

  async unsubscribe(channel: string): Promise<void> {
    await this.request('DELETE', `/api/subscriptions/${encodeURIComponent(channel)}`);
  }

  /** Newest `limit` publications of a channel, oldest first. */
  async history(channel: string, limit = 50): Promise<PublicationFrame[]> {
    const r = await this.request<{ publications: PublicationFrame[] }>('GET', `/api/channels/${encodeURIComponent(channel)}/history?limit=${limit}`);
    return r.publications;
  }

  publish(channel: string, kind: string, payload: unknown): Promise<PublishResult> {
    return this.request('POST', `/api/channels/${encodeURIComponent(channel)}/publications`, { kind, payload });
  }
}
