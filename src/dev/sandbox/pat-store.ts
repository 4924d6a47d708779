import { createHash, randomBytes } from 'node:crypto';

/** A PAT's public description, as Databricks' token API shows it (times in epoch milliseconds). */
export interface PatInfo {
  readonly token_id: string;
  readonly creation_time: number;
  /** -1: never expires. */
  readonly expiry_time: number;
  readonly comment: string;
  /** API scopes the PAT was created with; absent: unscoped (every API). */
  readonly scopes?: readonly string[];
}

interface StoredPat {
  readonly owner: string;
  readonly info: PatInfo;
}

const hashOf = (tokenValue: string): string => createHash('sha256').update(tokenValue, 'utf8').digest('hex');

/** Personal access tokens of the local workspace. Only their hashes are kept, as a real service would. */
export class PatStore {
  private readonly byHash = new Map<string, StoredPat>();

  create(owner: string, lifetimeSeconds: number | undefined, comment: string, scopes?: readonly string[]): { tokenValue: string; info: PatInfo } {
    const tokenValue = `dapi${randomBytes(16).toString('hex')}`;
    const now = Date.now();
    const info: PatInfo = {
      token_id: randomBytes(32).toString('hex'),
      creation_time: now,
      expiry_time: lifetimeSeconds === undefined ? -1 : now + lifetimeSeconds * 1000,
      comment,
      ...(scopes ? { scopes: [...scopes] } : {}),
    };
    this.byHash.set(hashOf(tokenValue), { owner, info });
    return { tokenValue, info };
  }

  /** The owner of a live PAT; undefined when unknown, revoked or expired. */
  ownerOf(tokenValue: string): string | undefined {
    return this.lookup(tokenValue)?.owner;
  }

  /** A live PAT's owner and scopes; undefined when unknown, revoked or expired. */
  lookup(tokenValue: string): { owner: string; scopes: readonly string[] | undefined } | undefined {
    const pat = this.byHash.get(hashOf(tokenValue));
    if (!pat || (pat.info.expiry_time !== -1 && pat.info.expiry_time <= Date.now())) return undefined;
    return { owner: pat.owner, scopes: pat.info.scopes };
  }

  list(owner?: string): PatInfo[] {
    return [...this.byHash.values()].filter((pat) => owner === undefined || pat.owner === owner).map((pat) => pat.info);
  }

  /** Revokes the owner's PAT; false when the owner has no token with that id. */
  delete(owner: string, tokenId: string): boolean {
    for (const [hash, pat] of this.byHash) {
      if (pat.owner === owner && pat.info.token_id === tokenId) return this.byHash.delete(hash);
    }
    return false;
  }
}
