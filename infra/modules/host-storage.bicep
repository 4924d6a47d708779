// Storage for the Functions host (identity-based AzureWebJobsStorage), the Flex Consumption
// deployment package container, and the audit table. Shared keys are off: every caller, the
// platform included, authenticates with Entra ID.

import { resourceTags } from 'types.bicep'

@description('Name of the storage account.')
param name string

@description('Azure region.')
param location string

@description('Blob container that holds the deployment package.')
param deploymentContainerName string

@description('Table that receives one audit record per vending decision.')
param auditTableName string

@description('Tags for the resources.')
param tags resourceTags

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
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
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2024-01-01' = {
  parent: storage
  name: 'default'
}

resource auditTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2024-01-01' = {
  parent: tableService
  name: auditTableName
}

@description('Name of the storage account.')
output name string = storage.name

@description('Blob service endpoint (ends with a slash).')
output blobEndpoint string = storage.properties.primaryEndpoints.blob

@description('Table service endpoint (ends with a slash).')
output tableEndpoint string = storage.properties.primaryEndpoints.table

@description('Name of the deployment package container.')
output deploymentContainerName string = deploymentContainer.name

@description('Name of the audit table.')
output auditTableName string = auditTable.name
