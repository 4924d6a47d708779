// The audit trail: one table in an account of its own. Nothing else lives here, so the only data
// role the app holds on it is the insert-and-read custom role (rbac.bicep) on the table itself.

import { identityOnlyStorageProperties, resourceTags } from 'types.bicep'

@description('Name of the storage account.')
param name string

@description('Azure region.')
param location string

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
  properties: identityOnlyStorageProperties
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2024-01-01' = {
  parent: storage
  name: 'default'
}

// Created here, not by the app: the app's role has no tables/write, so it cannot create (or drop) it.
resource auditTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2024-01-01' = {
  parent: tableService
  name: auditTableName
}

@description('Name of the storage account.')
output name string = storage.name

@description('Table service endpoint (ends with a slash).')
output tableEndpoint string = storage.properties.primaryEndpoints.table

@description('Name of the audit table.')
output auditTableName string = auditTable.name
