// The Functions host's own storage (identity-based AzureWebJobsStorage: keys, leases) and the Flex
// Consumption deployment package container. The host needs broad data roles here, so this account
// holds nothing else: the audit table lives in its own account (audit-storage.bicep), where the
// app may only add and read entities.

import { identityOnlyStorageProperties, resourceTags } from 'types.bicep'

@description('Name of the storage account.')
param name string

@description('Azure region.')
param location string

@description('Blob container that holds the deployment package.')
param deploymentContainerName string

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
  properties: identityOnlyStorageProperties
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

@description('Name of the storage account.')
output name string = storage.name

@description('Blob service endpoint (ends with a slash).')
output blobEndpoint string = storage.properties.primaryEndpoints.blob

@description('Name of the deployment package container.')
output deploymentContainerName string = deploymentContainer.name
