// transcript-vault: the Azure side. One storage account, one immutable
// (WORM) blob container = one vault. See docs/deploy.md.
//
// main.json beside this file is the ARM JSON this file compiles to, written
// BY HAND because no Bicep CLI was available where it was made. Keep the two
// in step: deploy/checks/test_templates.py asserts the same properties on
// both, and `az bicep build --file main.bicep --stdout` on a machine with the
// Bicep CLI should give an equivalent template (plus a _generator block).
//
// What the template does not do (data-plane or one-way operations, run by a
// person, see docs/deploy.md):
//   - stored access policies and the writer / reader SAS
//       az storage container policy create ...
//   - locking the time-based retention policy (irreversible)
//       az storage container immutability-policy lock ...
//   - legal holds (ARM cannot set them; they are tags set through the API)
//       az storage container legal-hold set ...

targetScope = 'resourceGroup'

@description('Name of the storage account (3-24 lowercase letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param storageAccountName string

@description('Azure region of the vault. Choose one that does not share a failure domain with the AWS region Genesys runs in.')
param location string = resourceGroup().location

@description('Name of the vault container.')
@minLength(3)
@maxLength(63)
param containerName string = 'transcripts'

@description('Replication. RA-GRS lets the compliance reader read from the secondary region during an Azure regional outage.')
@allowed([
  'Standard_RAGRS'
  'Standard_GRS'
  'Standard_RAGZRS'
  'Standard_GZRS'
  'Standard_ZRS'
  'Standard_LRS'
])
param skuName string = 'Standard_RAGRS'

@description('Public egress IPs of the router (the AWS stack output NatEgressIps, split into items). The storage firewall denies every other address. Empty until the AWS stack exists.')
param allowedIpAddresses array = []

@description('Shared Key access. true: SAS tokens signed with the account key (the writer and reader SAS of docs/deploy.md, revocable through stored access policies). false: Entra ID only (then the router needs a workload identity, not a SAS in Secrets Manager).')
param allowSharedKeyAccess bool = true

@description('Years every blob is kept unmodifiable and undeletable (time-based retention, days = years x 365).')
@minValue(1)
@maxValue(400)
param retentionYears int = 7

@description('Deploy the container\'s time-based retention policy. Leave true; set false only for redeployments after the policy has been LOCKED, if Azure refuses to update a locked policy (leaving it out of an incremental deployment does not remove it).')
param manageImmutabilityPolicy bool = true

@description('Days a deleted blob (or overwritten version) can be recovered.')
@minValue(1)
@maxValue(365)
param blobSoftDeleteDays int = 30

@description('Days a deleted container can be recovered.')
@minValue(1)
@maxValue(365)
param containerSoftDeleteDays int = 30

@description('Put a CanNotDelete management lock on the storage account.')
param deleteLock bool = true

var retentionDays = retentionYears * 365

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_43:The name is a parameter, which checkov cannot evaluate; Azure itself refuses a name that is not 3-24 lowercase letters and digits.
  // checkov:skip=CKV_AZURE_59:The router reaches the account over the internet from AWS NAT gateways; public network access stays enabled but networkAcls deny every address except allowedIpAddresses.
  name: storageAccountName
  location: location
  sku: {
    name: skuName
  }
  kind: 'StorageV2'
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: allowSharedKeyAccess
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Deny'
      ipRules: [for ip in allowedIpAddresses: {
        value: ip
        action: 'Allow'
      }]
      virtualNetworkRules: []
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    isVersioningEnabled: true
    deleteRetentionPolicy: {
      enabled: true
      days: blobSoftDeleteDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: containerSoftDeleteDays
    }
  }
}

resource vault 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'None'
    metadata: {
      purpose: 'transcript-vault'
    }
  }
}

// Time-based retention (container-level WORM). Created UNLOCKED: it already
// refuses overwrites and deletes, and can still be shortened or removed while
// you test. Lock it once the pipeline works (docs/deploy.md, step A6); after
// that it can only be extended.
resource retention 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = if (manageImmutabilityPolicy) {
  parent: vault
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: retentionDays
    allowProtectedAppendWrites: false
    allowProtectedAppendWritesAll: false
  }
}

resource accountLock 'Microsoft.Authorization/locks@2020-05-01' = if (deleteLock) {
  scope: storage
  name: '${storageAccountName}-no-delete'
  properties: {
    level: 'CanNotDelete'
    notes: 'transcript-vault: compliance archive; the account must not be deleted.'
  }
}

output storageAccountName string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
@description('TVAULT_VAULT for the router and `tvault --vault` for readers.')
output vaultUrl string = '${storage.properties.primaryEndpoints.blob}${containerName}'
output retentionDays int = retentionDays
@description('Run once the pipeline works: makes the retention policy irreversible (it can then only be extended).')
output lockPolicyCommand string = 'az storage container immutability-policy lock --resource-group ${resourceGroup().name} --account-name ${storageAccountName} --container-name ${containerName} --if-match "$(az storage container immutability-policy show --resource-group ${resourceGroup().name} --account-name ${storageAccountName} --container-name ${containerName} --query etag -o tsv)"'
@description('Optional legal hold (kept until cleared, on top of the retention period).')
output legalHoldCommand string = 'az storage container legal-hold set --resource-group ${resourceGroup().name} --account-name ${storageAccountName} --container-name ${containerName} --tags <case-id>'
@description('Stored access policies the SAS tokens are issued from (revoke by deleting or changing the policy). Writer: read, create, list; never write (overwrite) nor delete. Reader: read, list.')
output accessPolicyCommands array = [
  'az storage container policy create --account-name ${storageAccountName} --container-name ${containerName} --name tvault-writer --permissions rcl --expiry <YYYY-MM-DDT00:00Z> --auth-mode key'
  'az storage container policy create --account-name ${storageAccountName} --container-name ${containerName} --name tvault-reader --permissions rl --expiry <YYYY-MM-DDT00:00Z> --auth-mode key'
]
