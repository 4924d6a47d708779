import { randomUUID } from 'node:crypto';
import type { VendingConfig } from '../config';
import { NotGrantedError } from '../errors';
import { compilePrincipals, principalMatches } from '../policy';
import type { CallerIdentity, CompiledPrincipals } from '../policy';
import type { GrantCache } from './grant-cache';
import type { GrantStore } from './grant-store';
import type { Actor } from './grant-types';

/** What the grant routes need beside the vend path's deps. */
export interface GrantAdmin {
  readonly store: GrantStore;
  readonly cache: GrantCache;
  readonly admins: CompiledPrincipals;
  readonly owners: ReadonlyMap<string, CompiledPrincipals>;
  newId(): string;
}

export function createGrantAdmin(config: VendingConfig, store: GrantStore, cache: GrantCache): GrantAdmin {
  const owners = new Map([...config.workspaces].map(([name, ws]) => [name, compilePrincipals(ws.owners, config.tenantId)]));
  return { store, cache, admins: compilePrincipals(config.admins, config.tenantId), owners, newId: () => randomUUID() };
}

/** Owners of the workspace, or the platform admins. An unknown workspace has no owners. */
export function mayManage(admin: GrantAdmin, caller: CallerIdentity, workspace: string): boolean {
  if (principalMatches(admin.admins, caller)) return true;
  const owners = admin.owners.get(workspace);
  return owners !== undefined && principalMatches(owners, caller);
}

/** 403 with the same words for "not an owner" and "no such workspace". */
export function requireManager(admin: GrantAdmin, caller: CallerIdentity, workspace: string): void {
  if (!mayManage(admin, caller, workspace)) {
    throw new NotGrantedError({ detail: `Only the owners of "${workspace}" (or the platform admins) may manage its grants.` });
  }
}

/** The workspaces this caller may manage: all of them for an admin (a set: callers only test membership). */
export function managedWorkspaces(admin: GrantAdmin, caller: CallerIdentity): string[] {
  return [...admin.owners.keys()].filter((ws) => mayManage(admin, caller, ws));
}

export function actorOf(caller: CallerIdentity): Actor {
  return { tid: caller.tenantId, oid: caller.objectId, appid: caller.appId, kind: caller.kind, ...(caller.name ? { name: caller.name } : {}) };
}

export function isSameActor(actor: Actor, caller: CallerIdentity): boolean {
  return actor.tid === caller.tenantId && actor.oid === caller.objectId;
}
