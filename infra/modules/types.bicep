// Types and constants shared by the modules.

@export()
@description('Resource tags: names to string values.')
type resourceTags = {
  *: string
}

// Both storage accounts (host and audit) take these: Entra ID only (no shared keys, so no account
// key can be leaked or listed), TLS 1.2, HTTPS, no public blobs, no cross-tenant replication.
@export()
@description('Properties of an identity-only storage account.')
var identityOnlyStorageProperties = {
  accessTier: 'Hot'
  allowSharedKeyAccess: false
  defaultToOAuthAuthentication: true
  allowBlobPublicAccess: false
  allowCrossTenantReplication: false
  supportsHttpsTrafficOnly: true
  minimumTlsVersion: 'TLS1_2'
  publicNetworkAccess: 'Enabled'
  networkAcls: {
    bypass: 'AzureServices'
    defaultAction: 'Allow'
  }
}
