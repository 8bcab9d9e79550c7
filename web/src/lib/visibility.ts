// Model visibility (private: the owner only; public: every user may fine-tune and deploy it).
import { api, enc } from '../api/client';
import type { Model, User } from '../api/types';

export type Visibility = 'private' | 'public';

// A model without the field is private (older servers).
export function visibilityOf(m: Pick<Model, 'visibility'>): Visibility {
  return m.visibility === 'public' ? 'public' : 'private';
}

export function otherVisibility(v: Visibility): Visibility {
  return v === 'public' ? 'private' : 'public';
}

// The owner or an admin may change it (the server decides; this only hides a button that would
// be refused). Unknown owner (older servers): offered, and the server's answer shows.
export function canChangeVisibility(m: Pick<Model, 'owner_id'>, user: Pick<User, 'id' | 'admin'> | null): boolean {
  if (!user) return false;
  return user.admin || m.owner_id === undefined || m.owner_id === user.id;
}

// PATCH /v1/models/{name} {"visibility"}: the updated model, or the server's ApiError.
export function setModelVisibility(name: string, visibility: Visibility): Promise<Model> {
  return api.patch<Model>(`/v1/models/${enc(name)}`, { visibility });
}
