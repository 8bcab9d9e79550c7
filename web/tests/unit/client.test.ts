import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// A minimal sessionStorage for the node test environment.
class MemoryStorage {
  private m = new Map<string, string>();
  getItem(k: string) { return this.m.has(k) ? this.m.get(k)! : null; }
  setItem(k: string, v: string) { this.m.set(k, v); }
  removeItem(k: string) { this.m.delete(k); }
}

describe('api client', () => {
  beforeEach(() => {
    vi.stubGlobal('sessionStorage', new MemoryStorage());
  });
  afterEach(() => vi.unstubAllGlobals());

  it('parses the server error body', async () => {
    const { errorFromBody } = await import('../../src/api/client');
    const e = errorFromBody(400, JSON.stringify({ error: { code: 'invalid_argument', message: 'line 4: bad', details: { line: 4 } } }));
    expect(e.status).toBe(400);
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toBe('line 4: bad');
    expect(e.details).toEqual({ line: 4 });
    const plain = errorFromBody(502, 'Bad gateway\n');
    expect(plain.message).toBe('Bad gateway');
    expect(errorFromBody(500, '').message).toBe('HTTP 500');
  });

  it('streams a response body chunk by chunk and reports stream errors', async () => {
    const { postStream, setToken } = await import('../../src/api/client');
    setToken('sk_abc');
    const enc = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode('data: {"a":'));
        c.enqueue(enc.encode('1}\n\n'));
        c.close();
      },
    });
    const fetchMock = vi.fn(async () => new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } }));
    vi.stubGlobal('fetch', fetchMock);
    const chunks: string[] = [];
    await postStream('/v1/endpoints/x/v1/chat/completions', { stream: true }, (t) => chunks.push(t));
    expect(chunks.join('')).toBe('data: {"a":1}\n\n');
    const [, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer sk_abc');
    expect(init.body).toBe('{"stream":true}');
    vi.stubGlobal('fetch', vi.fn(async () => new Response('{"error":{"code":"unavailable","message":"no replica"}}', { status: 503 })));
    await expect(postStream('/x', {}, () => {})).rejects.toMatchObject({ status: 503, message: 'no replica' });
  });

  it('sends the bearer token and decodes JSON', async () => {
    const { request, setToken } = await import('../../src/api/client');
    setToken('sk_abc');
    const fetchMock = vi.fn(async () => new Response('{"name":"admin"}', { status: 200, headers: { 'content-type': 'application/json' } }));
    vi.stubGlobal('fetch', fetchMock);
    expect(await request('/v1/me')).toEqual({ name: 'admin' });
    const [, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer sk_abc');
    expect(init.method).toBe('GET');
  });

  it('a 401 clears the token and notifies listeners', async () => {
    const { request, setToken, getToken, onUnauthorized } = await import('../../src/api/client');
    setToken('sk_old');
    let notified = 0;
    const off = onUnauthorized(() => notified++);
    vi.stubGlobal('fetch', vi.fn(async () => new Response('{"error":{"code":"unauthenticated","message":"invalid or revoked token"}}', { status: 401, headers: { 'content-type': 'application/json' } })));
    await expect(request('/v1/jobs')).rejects.toMatchObject({ status: 401, message: 'invalid or revoked token' });
    expect(getToken()).toBeNull();
    expect(notified).toBe(1);
    // A login attempt with an explicit token does not sign anyone out.
    setToken('sk_keep');
    await expect(request('/v1/me', { token: 'sk_wrong' })).rejects.toMatchObject({ status: 401 });
    expect(getToken()).toBe('sk_keep');
    expect(notified).toBe(1);
    off();
  });

  it('a lost connection is a readable error', async () => {
    const { request } = await import('../../src/api/client');
    vi.stubGlobal('fetch', vi.fn(async () => { throw new TypeError('Failed to fetch'); }));
    await expect(request('/v1/jobs')).rejects.toMatchObject({ status: 0, code: 'unreachable' });
  });
});
