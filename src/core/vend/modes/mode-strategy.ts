import type { Workspace } from '../../config';
import type { CallerIdentity, Entitlement } from '../../policy';
import type { TokenRequest } from '../request-schema';
import type { RequestContext, VendDeps } from '../vend-deps';

/** What a mode is given: the request as parsed, the workspace, and what the caller's grants allow there. */
export interface ModeInput {
  readonly deps: VendDeps;
  readonly ctx: RequestContext;
  readonly ws: Workspace;
  readonly request: TokenRequest;
  readonly entitlement: Entitlement;
  readonly caller: CallerIdentity;
}

/** What a mode minted. Holds the token only until the response; the audit row gets ids only. */
export interface Vended {
  readonly token: string;
  /** For the audit row and (pat) the response: the token's uti/jti or the PAT id, never the token. */
  readonly tokenId: string | undefined;
  readonly expiresOnMs: number;
  /** The API scopes the token carries (oauth, and pat under a grant with scopes). */
  readonly scopes?: readonly string[];
  /** Headers a Databricks client sends next to `Authorization`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Fields of the 200 body that only this mode has (e.g. `token_id`). */
  readonly fields?: Readonly<Record<string, unknown>>;
  /** For a revocable token: undoes the issuance when it cannot be recorded (returns a log line, ids only). */
  readonly revoke?: () => Promise<string>;
}

/**
 * One way of minting a Databricks token. `issueToken` runs the protocol (authenticate, authorize,
 * mint, record, answer) and asks the mode only for the minting step; a new mode is one new file
 * registered in `./index.ts`.
 */
export interface ModeStrategy {
  /** Refuses request fields (or callers) this mode cannot serve: 400, after the grant check. */
  check(request: TokenRequest, caller: CallerIdentity): void;
  /** Mints the token; may refuse (403) what the entitlement does not cover. */
  vend(input: ModeInput): Promise<Vended>;
  /**
   * Minting leaves nothing behind outside the service (aad: the SP's Entra ID tokens, which the
   * minter caches anyway), so it may run while the audit key is still arriving; its token is used
   * only once the key is in hand, and dropped if the key cannot be had. Absent: never (a PAT, a
   * token exchange, an on-behalf-of token are made only once the key is in hand).
   */
  readonly leavesNothingBehind?: true;
}
