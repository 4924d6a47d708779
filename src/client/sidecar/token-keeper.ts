import type { VendingClientError } from '../vending-client-error';
import { SDK_EXPIRY_MARGIN_SECONDS } from './metadata-protocol';
import type { MetadataToken } from './metadata-protocol';

export interface TokenKeeperOptions {
  /** Gets a token valid at least `minValiditySeconds` (the client serves its cache or vends). */
  readonly fetch: () => Promise<MetadataToken>;
  readonly nowMs: () => number;
  /** Diagnostics for stderr (no secret in them): a new token, a failed refresh bridged by the cache. */
  readonly log: (line: string) => void;
}

/**
 * The metadata server's token: fresh from the client when it can be; when a refresh fails, the
 * last token while it still has more than the SDKs' margin left (a short outage of the vending
 * API must not break a running job), else the failure.
 */
export class TokenKeeper {
  #last: MetadataToken | undefined;

  constructor(private readonly options: TokenKeeperOptions) {}

  async current(): Promise<MetadataToken> {
    try {
      const token = await this.options.fetch();
      if (token.access_token !== this.#last?.access_token) {
        this.options.log(`dbx-vend: serving a new token, valid until ${new Date(token.expires_on * 1000).toISOString()}.\n`);
      }
      this.#last = token;
      return token;
    } catch (err) {
      const last = this.#last;
      const left = last ? last.expires_on - this.options.nowMs() / 1000 : 0;
      const code = (err as Partial<VendingClientError>).code ?? 'failure';
      if (!last || left <= SDK_EXPIRY_MARGIN_SECONDS + 5) {
        this.options.log(`dbx-vend: refreshing the token failed (${code}); no valid token to serve.\n`);
        throw err;
      }
      this.options.log(`dbx-vend: refreshing the token failed (${code}); serving the cached token, valid ${Math.floor(left)} s more.\n`);
      return last;
    }
  }
}
