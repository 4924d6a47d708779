import type { z } from 'zod';

export type StoredKind = 'grant' | 'request';

/** One row as read: the document and the version it was read at (for a conditional update). */
export interface Stored<T> {
  readonly item: T;
  readonly etag: string;
}

/**
 * Durable grants and grant requests. Adds, reads and replaces; never deletes (revocation is a
 * state change, and the app's role on the table has no delete). Every method fails with
 * UpstreamUnavailableError when the store cannot answer within our deadline, and `replace`
 * with ConflictError when the row changed since it was read.
 */
export interface GrantStore {
  list<S extends z.ZodType<{ id: string }>>(kind: StoredKind, schema: S): Promise<Stored<z.infer<S>>[]>;
  get<S extends z.ZodType<{ id: string }>>(kind: StoredKind, id: string, schema: S): Promise<Stored<z.infer<S>> | undefined>;
  insert(kind: StoredKind, item: { id: string; workspace: string; state: string }): Promise<void>;
  replace(kind: StoredKind, item: { id: string; workspace: string; state: string }, etag: string): Promise<void>;
}
