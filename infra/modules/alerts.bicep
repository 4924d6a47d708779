// Alert rules an operator wants on day one, as log search alerts on the Application Insights
// component (the Functions host writes each invocation to `requests` and the app's log lines to
// `traces`), and the action group they notify. Email is optional: without it the group has no
// receiver, and one can be added later without touching the rules.

import { resourceTags } from 'types.bicep'

@description('Name of the Application Insights component the rules query.')
param appInsightsName string

@description('Name of the action group.')
param actionGroupName string

@description('Prefix of the alert rule names.')
param rulePrefix string

@description('Azure region of the alert rules.')
param location string

@description('Email address the alerts go to. Empty: the action group gets no receiver.')
param alertEmail string

@description('401/403 answers per 5 minutes that, sustained for 15 minutes, look like probing.')
@minValue(1)
param authFailuresPer5Min int

@description('Tags for the resources.')
param tags resourceTags

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'dbx-vend'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// One entry per rule. Every query counts rows; `dimension` (optional) splits the alert by a column.
var rules = [
  {
    name: 'audit-write-failures'
    displayName: 'dbx-vend: audit write failures'
    description: 'Any audit record that could not be written: an issuance answered 503 audit_unavailable (no token left), or a refusal row lost in the background.'
    severity: 1
    query: 'traces | where message has "audit_unavailable" or message has "audit record of a refusal could not be written"'
    threshold: 0
    dimension: ''
    periods: 1
  }
  {
    name: 'server-errors'
    displayName: 'dbx-vend: 5xx rate above 5%'
    description: 'More than 5% of the API answers in 5 minutes were 5xx (with at least 20 answers).'
    severity: 2
    query: 'requests | summarize total = count(), failed = countif(toint(resultCode) >= 500) | where total >= 20 and failed * 100.0 / total > 5'
    threshold: 0
    dimension: ''
    periods: 1
  }
  {
    name: 'upstream-unavailable'
    displayName: 'dbx-vend: an upstream is unavailable'
    description: 'Key Vault, Entra ID, Databricks or the audit table answered too late or not at all (503 upstream_unavailable), split by dependency.'
    severity: 2
    query: 'traces | where message has "upstream_unavailable" | extend dependency = case(message has "Key Vault", "keyvault", message has "Entra ID", "entra", message has "audit table", "audit", message has "Databricks" or message has "workspace", "databricks", "other")'
    threshold: 2
    dimension: 'dependency'
    periods: 1
  }
  {
    name: 'auth-failure-spike'
    displayName: 'dbx-vend: sustained 401/403 spike'
    description: 'Many refused callers for 15 minutes in a row: someone may be probing tokens or grants.'
    severity: 3
    query: 'requests | where resultCode in ("401", "403")'
    threshold: authFailuresPer5Min
    dimension: ''
    periods: 3
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in rules: {
    name: '${rulePrefix}-${rule.name}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: rule.displayName
      description: rule.description
      severity: rule.severity
      enabled: true
      scopes: [
        appInsights.id
      ]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT5M'
      autoMitigate: true
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: rule.threshold
            dimensions: empty(rule.dimension) ? [] : [
              {
                name: rule.dimension
                operator: 'Include'
                values: [
                  '*'
                ]
              }
            ]
            failingPeriods: {
              numberOfEvaluationPeriods: rule.periods
              minFailingPeriodsToAlert: rule.periods
            }
          }
        ]
      }
      actions: {
        actionGroups: [
          actionGroup.id
        ]
      }
    }
  }
]

@description('Resource id of the action group the rules notify.')
output actionGroupId string = actionGroup.id
