// Every role assignment of the deployment, in one place, each scoped as narrowly as Azure allows:
//   app identity  Storage Blob Data Owner        the host storage account (the Functions host
//                                                creates and leases its own containers; the
//                                                deployment package container lives there too)
//   app identity  audit appender (custom role,   the audit table only, in its own account: may add
//                 defined here)                  and read entities, never update or delete them
//   app identity  grants editor (custom role,    the grants table only: may add, update and read
//                 defined here)                  entities, never delete them (revocation is a state)
//   app identity  Key Vault Secrets User         each named secret, or the vault when no names are
//                                                given (the vault holds only this app's secrets)
//   app identity  Monitoring Metrics Publisher   the Application Insights component
//   operator      Key Vault Secrets Officer,     the vault, only when an operator is named: lets the
//                 Key Vault Certificates Officer platform team load SP credentials (RBAC vault)
// Names are guid(scope, principal, role): stable across re-deployments, unique per assignment.

@description('Object (principal) id of the app\'s managed identity.')
param principalId string

@description('Storage account of the Functions host and the deployment package.')
param hostStorageAccountName string

@description('Storage account of the audit table (nothing else lives there).')
param auditStorageAccountName string

@description('The audit table.')
param auditTableName string

@description('The grants table (same account as the audit table).')
param grantsTableName string

@description('Suffix that makes the custom role\'s name unique in the tenant (role names are tenant-wide).')
param roleNameSuffix string

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
// Key Vault Secrets User
var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'
// Monitoring Metrics Publisher
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'
// Key Vault Secrets Officer
var keyVaultSecretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
// Key Vault Certificates Officer
var keyVaultCertificatesOfficerRoleId = 'a4417e6f-fecd-4de8-b567-7b0420556985'

resource hostStorageAccount 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: hostStorageAccountName
}

resource auditStorage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: auditStorageAccountName

  resource tableService 'tableServices' existing = {
    name: 'default'

    resource auditTable 'tables' existing = {
      name: auditTableName
    }

    resource grantsTable 'tables' existing = {
      name: grantsTableName
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
  name: guid(hostStorageAccount.id, principalId, storageBlobDataOwnerRoleId)
  scope: hostStorageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwnerRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Insert Entity needs entities/add/action (or entities/write, which would also allow Insert Or
// Replace and Merge); reading needs entities/read. Left out on purpose: entities/write,
// entities/update/action, entities/delete, and tables/write (create or drop the table). So the app
// cannot rewrite or erase the record of what it issued. Role definitions are tenant-wide objects
// that outlive the resource group; the name below is stable, so a re-provision updates this one.
resource auditAppenderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'dbx-token-vending-audit-appender')
  properties: {
    roleName: 'dbx-token-vending audit appender (${roleNameSuffix})'
    description: 'Add and read entities of the token-vending audit table; no update, no delete.'
    type: 'CustomRole'
    assignableScopes: [
      resourceGroup().id
    ]
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: [
          'Microsoft.Storage/storageAccounts/tableServices/tables/entities/read'
          'Microsoft.Storage/storageAccounts/tableServices/tables/entities/add/action'
        ]
        notDataActions: []
      }
    ]
  }
}

// The grants table: Insert Entity (entities/add/action), Update Entity with the etag read
// (entities/update/action: merge or update), Query Entities (entities/read). Left out: entities/write
// (it adds Insert Or Replace), entities/delete and tables/write. A grant is never deleted: revoking
// and expiring are states its row keeps, so the record of who had access stays in the table.
resource grantsEditorRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'dbx-token-vending-grants-editor')
  properties: {
    roleName: 'dbx-token-vending grants editor (${roleNameSuffix})'
    description: 'Add, update and read entities of the token-vending grants table; no delete.'
    type: 'CustomRole'
    assignableScopes: [
      resourceGroup().id
    ]
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: [
          'Microsoft.Storage/storageAccounts/tableServices/tables/entities/read'
          'Microsoft.Storage/storageAccounts/tableServices/tables/entities/add/action'
          'Microsoft.Storage/storageAccounts/tableServices/tables/entities/update/action'
        ]
        notDataActions: []
      }
    ]
  }
}

resource grantsTableEditor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(auditStorage::tableService::grantsTable.id, principalId, grantsEditorRole.name)
  scope: auditStorage::tableService::grantsTable
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', grantsEditorRole.name)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource auditTableAppender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(auditStorage::tableService::auditTable.id, principalId, auditAppenderRole.name)
  scope: auditStorage::tableService::auditTable
  properties: {
    // The subscription-level id, as for built-in roles (a role definition lives in the subscription
    // whatever scope deployed it).
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', auditAppenderRole.name)
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
