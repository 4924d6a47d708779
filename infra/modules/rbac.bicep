// Every role assignment of the deployment, in one place, each scoped as narrowly as Azure allows:
//   app identity  Storage Blob Data Owner        storage account (the Functions host creates and
//                                                leases its own containers; the deployment package
//                                                container lives there too)
//   app identity  Storage Table Data Contributor the audit table only
//   app identity  Key Vault Secrets User         each named secret, or the vault when no names are
//                                                given (the vault holds only this app's secrets)
//   app identity  Monitoring Metrics Publisher   the Application Insights component
//   operator      Key Vault Secrets Officer,     the vault, only when an operator is named: lets the
//                 Key Vault Certificates Officer platform team load SP credentials (RBAC vault)
// Names are guid(scope, principal, role): stable across re-deployments, unique per assignment.

@description('Object (principal) id of the app\'s managed identity.')
param principalId string

@description('Storage account of the Functions host, deployment package and audit table.')
param storageAccountName string

@description('The audit table.')
param auditTableName string

@description('The vault with the SP credentials and the audit HMAC key.')
param keyVaultName string

@description('Secrets the app may read. Empty: every secret in the vault. Each must already exist.')
param keyVaultSecretNames string[]

@description('The Application Insights component the app sends telemetry to.')
param appInsightsName string

@description('Object id of the person, group or pipeline that loads SP credentials into the vault. Empty: none.')
param operatorPrincipalId string

@description('Kind of principal operatorPrincipalId names.')
param operatorPrincipalType 'User' | 'Group' | 'ServicePrincipal'

// Storage Blob Data Owner
var storageBlobDataOwnerRoleId = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
// Storage Table Data Contributor
var storageTableDataContributorRoleId = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
// Key Vault Secrets User
var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'
// Monitoring Metrics Publisher
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'
// Key Vault Secrets Officer
var keyVaultSecretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
// Key Vault Certificates Officer
var keyVaultCertificatesOfficerRoleId = 'a4417e6f-fecd-4de8-b567-7b0420556985'

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName

  resource tableService 'tableServices' existing = {
    name: 'default'

    resource auditTable 'tables' existing = {
      name: auditTableName
    }
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource secrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = [
  for secretName in keyVaultSecretNames: {
    parent: vault
    name: secretName
  }
]

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource hostStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageBlobDataOwnerRoleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwnerRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource auditTableWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage::tableService::auditTable.id, principalId, storageTableDataContributorRoleId)
  scope: storage::tableService::auditTable
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributorRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource vaultSecretsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (empty(keyVaultSecretNames)) {
  name: guid(vault.id, principalId, keyVaultSecretsUserRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource secretReaders 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (secretName, i) in keyVaultSecretNames: {
    name: guid(secrets[i].id, principalId, keyVaultSecretsUserRoleId)
    scope: secrets[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, monitoringMetricsPublisherRoleId)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisherRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource operatorSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(vault.id, operatorPrincipalId, keyVaultSecretsOfficerRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficerRoleId)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

resource operatorCertificates 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(vault.id, operatorPrincipalId, keyVaultCertificatesOfficerRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultCertificatesOfficerRoleId)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}
