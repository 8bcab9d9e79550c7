import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { canChangeVisibility, otherVisibility, visibilityOf } from '../../src/lib/visibility';

class MemoryStorage {
  private m = new Map<string, string>();
  getItem(k: string) { return this.m.has(k) ? this.m.get(k)! : null; }
  setItem(k: string, v: string) { this.m.set(k, v); }
  removeItem(k: string) { this.m.delete(k); }
}

describe('model visibility', () => {
  beforeEach(() => vi.stubGlobal('sessionStorage', new MemoryStorage()));
  afterEach(() => vi.unstubAllGlobals());

  it('reads and flips the visibility', () => {
    expect(visibilityOf({ visibility: 'public' })).toBe('public');
    expect(visibilityOf({ visibility: 'private' })).toBe('private');
    expect(visibilityOf({})).toBe('private');
    expect(otherVisibility('public')).toBe('private');
    expect(otherVisibility('private')).toBe('public');
  });

  it('offers the toggle to the owner and admins only', () => {
    const owner = { id: 7, admin: false };
    const other = { id: 8, admin: false };
    const admin = { id: 1, admin: true };
    expect(canChangeVisibility({ owner_id: 7 }, owner)).toBe(true);
    expect(canChangeVisibility({ owner_id: 7 }, other)).toBe(false);
    expect(canChangeVisibility({ owner_id: 7 }, admin)).toBe(true);
    expect(canChangeVisibility({ owner_id: 7 }, null)).toBe(false);
    expect(canChangeVisibility({}, other)).toBe(true); // unknown owner: the server decides
  });

  it('PATCHes the model and surfaces the server refusal', async () => {
    const { setToken } = await import('../../src/api/client');
    const { setModelVisibility } = await import('../../src/lib/visibility');
    setToken('sk_abc');
    const fetchMock = vi.fn(async () =>
      new Response('{"id":3,"name":"my model","visibility":"public","owner_id":7}', { status: 200, headers: { 'content-type': 'application/json' } }));
    vi.stubGlobal('fetch', fetchMock);
    const m = await setModelVisibility('my model', 'public');
    expect(m.visibility).toBe('public');
    const [path, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(path).toBe('/v1/models/my%20model');
    expect(init.method).toBe('PATCH');
    expect(init.body).toBe('{"visibility":"public"}');
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer sk_abc');

    vi.stubGlobal('fetch', vi.fn(async () =>
      new Response('{"error":{"code":"permission_denied","message":"model \'x\' belongs to another user"}}', { status: 403, headers: { 'content-type': 'application/json' } })));
    await expect(setModelVisibility('x', 'private')).rejects.toMatchObject({ status: 403, message: "model 'x' belongs to another user" });
  });
});
