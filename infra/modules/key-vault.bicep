// The vault that holds the service principals' secrets and certificates and the audit HMAC key.
// RBAC mode only (no access policies), soft delete with purge protection: a deleted secret can be
// recovered for the retention period and nobody, the app included, can purge it early.

import { resourceTags } from 'types.bicep'

@description('Name of the vault.')
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Days a deleted vault or secret stays recoverable.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int

@description('Tags for the resource.')
param tags resourceTags

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

@description('Name of the vault.')
output name string = vault.name

@description('Vault URL without the trailing slash, as the app configuration expects it.')
output url string = 'https://${vault.name}${environment().suffixes.keyvaultDns}'
