// The audit trail and the API grants: two tables in an account of their own. Nothing else lives
// here; the app's data roles (rbac.bicep) are each scoped to one table: insert-and-read on the
// audit table, insert-update-and-read (no delete) on the grants table.

import { identityOnlyStorageProperties, resourceTags } from 'types.bicep'

@description('Name of the storage account.')
param name string

@description('Azure region.')
param location string

@description('Table that receives one audit record per vending decision.')
param auditTableName string

@description('Table that holds the grants made through the API and the grant requests.')
param grantsTableName string

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

// Also created here: revocation is a state change, so the app never needs to create, drop or delete.
resource grantsTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2024-01-01' = {
  parent: tableService
  name: grantsTableName
}

@description('Name of the storage account.')
output name string = storage.name

@description('Table service endpoint (ends with a slash).')
output tableEndpoint string = storage.properties.primaryEndpoints.table

@description('Name of the audit table.')
output auditTableName string = auditTable.name

@description('Name of the grants table.')
output grantsTableName string = grantsTable.name
