// Deploys the Databricks token-vending function into one resource group: a user-assigned managed
// identity, a Flex Consumption function app (Node.js 22) behind Entra ID authentication, identity-only
// storage (one account for the Functions host, another for the audit table alone), an RBAC-mode Key
// Vault, Log Analytics with Entra-only Application Insights, and the role assignments between them
// (modules/rbac.bicep). Nothing in it holds a key.
//
//   azd up                                            (infra/main.parameters.json, azure.yaml)
//   az deployment group create -g <rg> -f infra/main.bicep -p ...   (see infra/README.md)

targetScope = 'resourceGroup'

import { resourceTags } from 'modules/types.bicep'

@description('Name of the environment (azd environment name); part of every resource name.')
@minLength(1)
@maxLength(32)
param environmentName string

@description('Azure region for every resource; one where Flex Consumption is offered.')
param location string = resourceGroup().location

// The document's schema belongs to the code, which validates it at start-up; a second copy as a
// Bicep type would only drift from it.
@description('The vending configuration document (see the project README). It holds no secrets, only names of Key Vault secrets; keyVaultUrl is set here to the vault this template deploys.')
#disable-next-line use-user-defined-types
param vendingConfig object

@description('Client (application) id of the vending API app registration in Entra ID.')
@minLength(36)
@maxLength(36)
param vendingApiClientId string

// Entra's identifier-URI restrictions (on by default for new apps in many tenants) accept only URIs
// that carry the tenant or app id, or a verified domain: api://<appId> always passes.
@description('Identifier URIs of the vending API that a caller token\'s aud may name, besides its client id (v2 tokens carry that). Empty (or only empty strings): api://<vendingApiClientId>.')
param vendingApiAudiences string[] = []

@description('Entra ID tenant of the callers (the issuer App Service authentication accepts).')
param callerTenantId string = tenant().tenantId

@description('Key Vault secret (and certificate) names the app may read. Empty: the app may read every secret in this vault. The secrets must exist before they are named here.')
param keyVaultSecretNames string[] = []

@description('Name of the Key Vault secret that holds the audit HMAC key (32+ random bytes, base64). The app reads it by name and picks it up within a minute of its creation.')
param auditHmacSecretName string = 'audit-hmac-key'

@description('Name of the audit table.')
@minLength(3)
@maxLength(63)
param auditTableName string = 'vendingaudit'

@description('Name of the grants table (grants made through the API, and grant requests).')
@minLength(3)
@maxLength(63)
param grantsTableName string = 'vendinggrants'

@description('Memory of each function instance, in MB.')
param instanceMemoryMB 512 | 2048 | 4096 = 2048

@description('Most instances the function app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Days Log Analytics keeps the logs.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Email address the alert rules notify (action group). Empty: the action group has no receiver.')
param alertEmail string = ''

@description('401/403 answers per 5 minutes that, sustained for 15 minutes, raise the probing alert.')
@minValue(1)
param authFailureAlertThreshold int = 100

@description('Name of an existing deployment\'s vault (azd keeps it in the environment as AZURE_KEY_VAULT_NAME). Empty: a new name, unique to this provision, so that a vault soft-deleted by `azd down` (purge protection keeps it) never blocks the next one.')
@maxLength(24)
param keyVaultName string = ''

@description('When this deployment runs; only used to make a new vault name unique (see keyVaultName). Leave the default.')
param provisionedAt string = utcNow()

@description('Days a deleted vault or secret stays recoverable (purge protection keeps it that long).')
@minValue(7)
@maxValue(90)
param keyVaultSoftDeleteRetentionInDays int = 90

@description('Object id of whoever loads SP credentials into the vault (azd: the signed-in principal). Empty: nobody gets vault data-plane roles from this template.')
param operatorPrincipalId string = ''

@description('Kind of principal operatorPrincipalId names.')
param operatorPrincipalType 'User' | 'Group' | 'ServicePrincipal' = 'User'

@description('Tags for every resource.')
param tags resourceTags = {}

// AzureDatabricks first-party application id: the same in every cloud.
var azureDatabricksAppId = '2ff814a6-3304-4ab8-85cb-cd0e6f879c1d'

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName, location))

// Names are fixed before anything is deployed, so What-If can predict every resource id.
var names = {
  identity: 'id-vend-${resourceToken}'
  logAnalytics: 'log-vend-${resourceToken}'
  appInsights: 'appi-vend-${resourceToken}'
  actionGroup: 'ag-vend-${resourceToken}'
  alertPrefix: 'alert-vend-${resourceToken}'
  hostStorage: 'sthost${resourceToken}'
  auditStorage: 'staudit${resourceToken}'
  deploymentContainer: 'app-package-${resourceToken}'
  keyVault: empty(keyVaultName) ? 'kv-vend-${uniqueString(resourceToken, provisionedAt)}' : keyVaultName
  plan: 'plan-vend-${resourceToken}'
  functionApp: 'func-vend-${resourceToken}'
}
var allTags = union(tags, { 'azd-env-name': environmentName })

// loginEndpoint ends with a slash ("https://login.microsoftonline.com/"); the SDKs take the host
// without one.
var loginEndpoint = environment().authentication.loginEndpoint
var authorityHost = endsWith(loginEndpoint, '/') ? take(loginEndpoint, length(loginEndpoint) - 1) : loginEndpoint

// The management scope is the cloud's classic management audience plus "/.default". That audience
// already ends with a slash ("https://management.core.windows.net/"), so the public-cloud scope is
// "https://management.core.windows.net//.default" — the double slash is right: it is what Databricks
// expects as the aud of X-Databricks-Azure-SP-Management-Token. audiences[0] is that audience in
// every cloud (.usgovcloudapi.net, .chinacloudapi.cn); audiences[1] (management.azure.com) is not
// what Databricks accepts.
var managementScope = '${environment().authentication.audiences[0]}/.default'

// The vending API's identifier URIs (aud of v1 tokens): api://<appId> unless others are given.
var givenAudiences = filter(vendingApiAudiences, uri => !empty(uri))
var apiIdentifierUris = empty(givenAudiences) ? ['api://${vendingApiClientId}'] : givenAudiences

// When the secrets are named, the app reads only those and the audit HMAC key.
var appSecretNames = empty(keyVaultSecretNames) ? [] : union([auditHmacSecretName], keyVaultSecretNames)

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: names.identity
    location: location
    tags: allTags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    location: location
    retentionInDays: logRetentionInDays
    tags: allTags
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    appInsightsName: names.appInsights
    actionGroupName: names.actionGroup
    rulePrefix: names.alertPrefix
    location: location
    alertEmail: alertEmail
    authFailuresPer5Min: authFailureAlertThreshold
    tags: allTags
  }
  dependsOn: [
    monitoring
  ]
}

module hostStorage 'modules/host-storage.bicep' = {
  name: 'host-storage'
  params: {
    name: names.hostStorage
    location: location
    deploymentContainerName: names.deploymentContainer
    tags: allTags
  }
}

module auditStorage 'modules/audit-storage.bicep' = {
  name: 'audit-storage'
  params: {
    name: names.auditStorage
    location: location
    auditTableName: auditTableName
    grantsTableName: grantsTableName
    tags: allTags
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'key-vault'
  params: {
    name: names.keyVault
    location: location
    softDeleteRetentionInDays: keyVaultSoftDeleteRetentionInDays
    tags: allTags
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  dependsOn: [
    hostStorage
    auditStorage
    keyVault
    monitoring
  ]
  params: {
    // A principal's object id exists only once the identity does, so What-If cannot know it; naming
    // each assignment after it (guid(scope, principal, role)) keeps a re-created identity from
    // colliding with the assignments of the one it replaced.
    #disable-next-line what-if-short-circuiting
    principalId: identity.outputs.principalId
    hostStorageAccountName: names.hostStorage
    auditStorageAccountName: names.auditStorage
    auditTableName: auditTableName
    grantsTableName: grantsTableName
    roleNameSuffix: resourceToken
    keyVaultName: names.keyVault
    keyVaultSecretNames: appSecretNames
    appInsightsName: names.appInsights
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  // The app reaches host storage, the vault and the audit table as soon as it starts: grant first.
  dependsOn: [
    monitoring
    rbac
  ]
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: allTags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: hostStorage.outputs.name
    storageBlobEndpoint: hostStorage.outputs.blobEndpoint
    deploymentContainerName: hostStorage.outputs.deploymentContainerName
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    appInsightsName: names.appInsights
    authTenantId: callerTenantId
    authClientId: vendingApiClientId
    allowedAudiences: union(apiIdentifierUris, [vendingApiClientId])
    // Exactly the settings the code reads in Azure (DEPLOYED_SETTINGS in src/core/config/settings.ts;
    // test/infra.test.ts holds the two lists against each other). No local-only switch belongs here.
    vendingSettings: {
      VENDING_CONFIG: string(union(vendingConfig, { keyVaultUrl: keyVault.outputs.url }))
      AZURE_CLIENT_ID: identity.outputs.clientId
      AUDIT_TABLE_ENDPOINT: auditStorage.outputs.tableEndpoint
      AUDIT_TABLE_NAME: auditStorage.outputs.auditTableName
      GRANTS_TABLE_ENDPOINT: auditStorage.outputs.tableEndpoint
      GRANTS_TABLE_NAME: auditStorage.outputs.grantsTableName
      // A name, not a Key Vault reference: the app reads the secret itself (same client, cache and
      // refresh as the SP secrets), so it starts, says what it lacks, and begins vending within a
      // minute of the secret's creation, with no restart.
      AUDIT_HMAC_SECRET_NAME: auditHmacSecretName
      AZURE_AUTHORITY_HOST: authorityHost
      DATABRICKS_RESOURCE_ID: azureDatabricksAppId
      AZURE_MANAGEMENT_SCOPE: managementScope
    }
  }
}

@description('Region of the deployment.')
output AZURE_LOCATION string = location

@description('Resource group of the deployment.')
output AZURE_RESOURCE_GROUP string = resourceGroup().name

@description('Name of the function app (what `func azure functionapp publish` takes).')
output AZURE_FUNCTION_NAME string = functionApp.outputs.name

@description('Base URL of the function app.')
output AZURE_FUNCTION_URL string = 'https://${functionApp.outputs.defaultHostName}'

@description('Name of the azd service "api".')
output SERVICE_API_NAME string = functionApp.outputs.name

@description('Base URL of the vending API (POST {this}/token).')
output SERVICE_API_ENDPOINT string = 'https://${functionApp.outputs.defaultHostName}/api'

@description('Name of the Key Vault that holds the SP credentials.')
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name

@description('URL of that Key Vault.')
output AZURE_KEY_VAULT_URL string = keyVault.outputs.url

@description('Name of the app\'s managed identity.')
output AZURE_IDENTITY_NAME string = identity.outputs.name

@description('Client id of the app\'s managed identity.')
output AZURE_IDENTITY_CLIENT_ID string = identity.outputs.clientId

@description('Object (principal) id of the app\'s managed identity: the subject of federated credentials.')
output AZURE_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId

@description('Name of the Functions host\'s storage account (deployment package, host state).')
output AZURE_STORAGE_ACCOUNT_NAME string = hostStorage.outputs.name

@description('Name of the audit table\'s storage account.')
output AUDIT_STORAGE_ACCOUNT_NAME string = auditStorage.outputs.name

@description('Table endpoint of the audit table\'s account.')
output AUDIT_TABLE_ENDPOINT string = auditStorage.outputs.tableEndpoint

@description('Name of the audit table.')
output AUDIT_TABLE_NAME string = auditStorage.outputs.auditTableName

@description('Name of the grants table.')
output GRANTS_TABLE_NAME string = auditStorage.outputs.grantsTableName

@description('The scope a caller asks Entra ID for to call the vending API.')
output VENDING_API_SCOPE string = '${apiIdentifierUris[0]}/.default'

@description('Name of the Key Vault secret that holds the audit HMAC key.')
output AUDIT_HMAC_SECRET_NAME string = auditHmacSecretName

@description('Name of the Application Insights component.')
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.appInsightsName
