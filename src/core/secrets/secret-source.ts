/** A credential's secret material, with the Key Vault version it came from. */
export interface SecretValue {
  readonly value: string;
  readonly version: string;
  readonly contentType: string | undefined;
}

export interface SecretSource {
  /** `latest: true` skips the cache (used after Entra ID says the credential is no longer valid). */
  get(name: string, options?: { readonly latest?: boolean }): Promise<SecretValue>;
}
