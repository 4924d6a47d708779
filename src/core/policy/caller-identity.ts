/** Who is calling, as established from a verified token. Never holds the token itself. */
export interface CallerIdentity {
  readonly tenantId: string;
  readonly objectId: string;
  /** The calling application's client id (`appid` in v1 tokens, `azp` in v2). */
  readonly appId: string;
  readonly roles: readonly string[];
  /** Group object ids from the token's `groups` claim (lower-cased); absent when the token carries none. */
  readonly groups?: readonly string[];
  /** `app` for app-only (client credentials) tokens, `user` for delegated ones. */
  readonly kind: 'app' | 'user';
  /** UPN or app display name when the token carries one; for the audit record only. */
  readonly name: string | undefined;
}
