/** Per-cloud endpoints. The AzureDatabricks app id is the same in all three. */
export interface CloudProfile {
  readonly authorityHost: string;
  readonly managementScope: string;
  /** The v1 token issuer prefix; the tenant id and a slash follow. */
  readonly v1IssuerBase: string;
  /** The v2 token issuer host; `/{tid}/v2.0` follows. Not always the authority (Azure China). */
  readonly v2IssuerHost: string;
  readonly workspaceHostSuffix: string;
}

export const CLOUDS = {
  AzurePublic: {
    authorityHost: 'https://login.microsoftonline.com',
    managementScope: 'https://management.core.windows.net//.default',
    v1IssuerBase: 'https://sts.windows.net/',
    v2IssuerHost: 'https://login.microsoftonline.com',
    workspaceHostSuffix: '.azuredatabricks.net',
  },
  AzureUSGovernment: {
    authorityHost: 'https://login.microsoftonline.us',
    managementScope: 'https://management.core.usgovcloudapi.net//.default',
    v1IssuerBase: 'https://sts.windows.net/',
    v2IssuerHost: 'https://login.microsoftonline.us',
    workspaceHostSuffix: '.databricks.azure.us',
  },
  AzureChina: {
    authorityHost: 'https://login.chinacloudapi.cn',
    managementScope: 'https://management.core.chinacloudapi.cn//.default',
    v1IssuerBase: 'https://sts.chinacloudapi.cn/',
    v2IssuerHost: 'https://login.partner.microsoftonline.cn',
    workspaceHostSuffix: '.databricks.azure.cn',
  },
} as const satisfies Record<string, CloudProfile>;

export type CloudName = keyof typeof CLOUDS;

export const DATABRICKS_RESOURCE_ID = '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d';

const MICROSOFT_AUTHORITIES = /^https:\/\/login\.(microsoftonline\.com|microsoftonline\.us|chinacloudapi\.cn|microsoft\.com)$/;

/** Instance discovery asks Microsoft about the authority; a private (local) authority has no entry there. */
export function isMicrosoftAuthority(authorityHost: string): boolean {
  return MICROSOFT_AUTHORITIES.test(authorityHost);
}
