// The app's user-assigned managed identity. A user-assigned identity (rather than the site's
// system-assigned one) exists before the site, so its role assignments can be in place before the
// app first starts, and it outlives a re-created site.

import { resourceTags } from 'types.bicep'

@description('Name of the identity.')
param name string

@description('Azure region.')
param location string

@description('Tags for the resource.')
param tags resourceTags

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

@description('Resource id of the identity.')
output id string = identity.id

@description('Name of the identity.')
output name string = identity.name

@description('Client (application) id: what AZURE_CLIENT_ID and the *__clientId settings name.')
output clientId string = identity.properties.clientId

@description('Object (principal) id: what role assignments and federated credentials name.')
output principalId string = identity.properties.principalId
