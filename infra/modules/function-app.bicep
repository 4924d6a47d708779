// The vending function: Flex Consumption plan (FC1), Node.js 22, run as the user-assigned identity.
// Nothing here holds a key or a connection string: host storage, the deployment package, Key Vault
// references and telemetry all authenticate as the identity.

import { resourceTags } from 'types.bicep'

@description('Name of the function app.')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Azure region.')
param location string

@description('Tags for the resources; the site also gets the azd service tag.')
param tags resourceTags

@description('Resource id of the app\'s user-assigned managed identity.')
param identityId string

@description('Client id of the app\'s user-assigned managed identity.')
param identityClientId string

@description('Storage account of the Functions host and the deployment package (not the audit table\'s).')
param storageAccountName string

@description('Blob endpoint of that account (ends with a slash).')
param storageBlobEndpoint string

@description('Blob container that holds the deployment package.')
param deploymentContainerName string

@description('Memory of each instance, in MB.')
param instanceMemoryMB 512 | 2048 | 4096

@description('Most instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('Application Insights component that receives the telemetry.')
param appInsightsName string

@description('The settings the vending code reads (src/core/config/settings.ts), by name.')
param vendingSettings {
  *: string
}

@description('Entra ID tenant whose tokens the front door (App Service authentication) accepts.')
param authTenantId string

@description('Client id of the vending API app registration.')
param authClientId string

@description('Audiences a caller token may carry (the API\'s identifier URI and client id).')
param allowedAudiences string[]

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

// Host storage over the identity: accountName for the host's own resolution, blobServiceUri so that
// sovereign clouds (whose endpoints are not core.windows.net) resolve too.
var hostSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  // The component refuses unauthenticated ingestion (DisableLocalAuth); the host signs in as the identity.
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    // @Microsoft.KeyVault(...) references resolve as the user-assigned identity, not a system one.
    keyVaultReferenceIdentity: identityId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      runtime: {
        name: 'node'
        version: '22'
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
    }
    // Flex Consumption refuses (ARM error 51021) the classic runtime and scale properties here:
    // ftpsState, alwaysOn, use32BitWorkerProcess, netFrameworkVersion, linuxFxVersion,
    // windowsFxVersion, functionsRuntimeScaleMonitoringEnabled, preWarmedInstanceCount,
    // functionAppScaleLimit and the language versions. Runtime and scale are in functionAppConfig;
    // FTP stays closed through the basic publishing credentials policies below.
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
    }
  }

  // The whole set of app settings: the host's, then the vending code's. Flex Consumption takes the
  // runtime from functionAppConfig, so FUNCTIONS_WORKER_RUNTIME and friends must not appear here.
  resource settings 'config' = {
    name: 'appsettings'
    properties: union(hostSettings, vendingSettings)
  }

  // Publishing goes through Entra ID (azd, func, az all use it); basic-auth credentials stay off.
  // The site's configuration children are written one after another (appsettings, authsettingsV2,
  // ftp, scm): ARM would otherwise write them in parallel, and concurrent writes to one site's
  // configuration race (a setting goes missing, or a write fails with 409 Conflict).
  resource ftpPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    dependsOn: [
      auth
    ]
    properties: {
      allow: false
    }
  }

  resource scmPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    dependsOn: [
      ftpPublishing
    ]
    properties: {
      allow: false
    }
  }

  // App Service authentication in front of the app: a request without a valid Entra ID token for the
  // vending API never reaches the code (401), except the anonymous health probe. The function still
  // verifies every caller JWT itself (signature, issuer, audience, tenant, expiry): defense in depth,
  // and the only check when the app runs outside App Service.
  resource auth 'config' = {
    name: 'authsettingsV2'
    dependsOn: [
      settings
    ]
    properties: {
      platform: {
        enabled: true
      }
      globalValidation: {
        requireAuthentication: true
        unauthenticatedClientAction: 'Return401'
        excludedPaths: [
          '/api/health'
        ]
      }
      httpSettings: {
        requireHttps: true
      }
      login: {
        tokenStore: {
          enabled: false
        }
      }
      identityProviders: {
        azureActiveDirectory: {
          enabled: true
          registration: {
            clientId: authClientId
            openIdIssuer: '${environment().authentication.loginEndpoint}${authTenantId}/v2.0'
          }
          validation: {
            allowedAudiences: allowedAudiences
          }
        }
      }
    }
  }
}

@description('Name of the function app.')
output name string = site.name

@description('Default host name of the function app.')
output defaultHostName string = site.properties.defaultHostName
