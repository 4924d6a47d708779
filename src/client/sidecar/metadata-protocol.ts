/**
 * The Databricks unified-auth "metadata service" protocol, answer side (auth type
 * `metadata-service`). As the Databricks SDKs for Go, Python and JavaScript implement it: the
 * client sends `GET <DATABRICKS_METADATA_SERVICE_URL>` with `X-Databricks-Metadata-Version: 1`
 * and `X-Databricks-Host: <its configured host>`, and expects `{access_token, token_type,
 * expires_on}` with `expires_on` in epoch seconds. A 4xx is required for an unsupported version
 * and for a host the token is not for. The SDKs treat a token as expired 40 s before `expires_on`
 * and then ask again.
 */
export const METADATA_VERSION = '1';
export const VERSION_HEADER = 'x-databricks-metadata-version';
export const HOST_HEADER = 'x-databricks-host';
/** What the SDKs subtract from `expires_on` before they ask again. */
export const SDK_EXPIRY_MARGIN_SECONDS = 40;

export interface MetadataRequest {
  readonly method: string;
  /** Path and query as received. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface MetadataToken {
  readonly access_token: string;
  /** Epoch seconds. */
  readonly expires_on: number;
}

export interface MetadataAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Checks a request against the session's secret path and workspace host, in the order the
 * protocol needs: wrong path 404 (nothing about the session is revealed), wrong method 405,
 * wrong version 400, wrong host 404. Returns undefined when the request deserves a token.
 */
export function checkMetadataRequest(req: MetadataRequest, session: { readonly path: string; readonly host: string }): MetadataAnswer | undefined {
  if (req.url !== session.path) return error(404, 'not_found', 'No such metadata endpoint.');
  if (req.method !== 'GET') return { ...error(405, 'method_not_allowed', 'Only GET is served.'), headers: { Allow: 'GET' } };
  if (single(req.headers[VERSION_HEADER]) !== METADATA_VERSION) return error(400, 'unsupported_version', `${VERSION_HEADER} must be ${METADATA_VERSION}.`);
  if (!sameHost(single(req.headers[HOST_HEADER]), session.host)) return error(404, 'unknown_host', 'This metadata endpoint serves another workspace host.');
  return undefined;
}

export function tokenAnswer(token: MetadataToken): MetadataAnswer {
  return { status: 200, body: { access_token: token.access_token, token_type: 'Bearer', expires_on: Math.floor(token.expires_on) } };
}

export function error(status: number, code: string, message: string): MetadataAnswer {
  return { status, body: { error: code, message } };
}

/** Hosts compare as URL origins: scheme and host case-insensitively, default port and a trailing slash ignored. */
function sameHost(presented: string | undefined, host: string): boolean {
  if (!presented) return false;
  try {
    return new URL(presented).origin === new URL(host).origin;
  } catch {
    return false;
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. Anything else is refused before it is read. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
