import { beforeEach, describe, expect, it } from 'vitest';
import type * as Settings from '../../src/core/config/service-settings';
import type { ServiceSettings } from '../../src/core/config/service-settings';
import type { Env } from '../../src/core/config/read-document';
import { loadAnew } from '../support/load-anew';

// The app settings beside the config document (README "Configuration"): each one's default, its
// bounds and the exact issue an operator reads when it is wrong. The patterns they are checked
// with are built when the module loads: each test loads it anew (see loadAnew).

let isUnresolvedKeyVaultReference: typeof Settings.isUnresolvedKeyVaultReference;
let parseAuditKey: typeof Settings.parseAuditKey;
let readServiceSettings: typeof Settings.readServiceSettings;
beforeEach(async () => {
  ({ isUnresolvedKeyVaultReference, parseAuditKey, readServiceSettings } = await loadAnew(() => import('../../src/core/config/service-settings.js')));
});

const HMAC = Buffer.alloc(32, 7).toString('base64');
const BASE: Env = { AUDIT_TABLE_ENDPOINT: 'https://st.table.core.windows.net', AUDIT_HMAC_KEY: HMAC };

function read(extra: Env = {}): { settings: ServiceSettings | undefined; issues: string[] } {
  const issues: string[] = [];
  const settings = readServiceSettings({ ...BASE, ...extra }, issues);
  return { settings, issues };
}

function ok(extra: Env = {}): ServiceSettings {
  const { settings, issues } = read(extra);
  expect(issues).toEqual([]);
  if (!settings) throw new Error('expected settings');
  return settings;
}

const TABLE_RULE = 'must be 3-63 letters and digits, starting with a letter';
const ENDPOINT_RULE = 'must be an https endpoint such as https://<account>.table.core.windows.net';

describe('audit table settings', () => {
  it('defaults the audit table to vendingaudit and the grants table to vendinggrants in the same account', () => {
    const s = ok();
    expect(s.audit).toEqual({ kind: 'endpoint', endpoint: 'https://st.table.core.windows.net', tableName: 'vendingaudit' });
    expect(s.grants).toEqual({ kind: 'endpoint', endpoint: 'https://st.table.core.windows.net', tableName: 'vendinggrants' });
  });

  it('takes a table name of 3-63 letters and digits starting with a letter, and nothing else', () => {
    expect(ok({ AUDIT_TABLE_NAME: 'abc' }).audit.tableName).toBe('abc');
    expect(ok({ AUDIT_TABLE_NAME: `a${'1'.repeat(62)}` }).audit.tableName).toHaveLength(63);
    for (const bad of ['ab', `a${'1'.repeat(63)}`, '1abc', 'audit-log', 'x audit', 'auditx!']) {
      expect(read({ AUDIT_TABLE_NAME: bad }).issues).toEqual([`AUDIT_TABLE_NAME: ${TABLE_RULE}`]);
    }
  });

  it('prefers the local connection string over the endpoint', () => {
    const s = ok({ AUDIT_CONNECTION_STRING: 'UseDevelopmentStorage=true', AUDIT_TABLE_NAME: 'trail' });
    expect(s.audit).toEqual({ kind: 'connection-string', connectionString: 'UseDevelopmentStorage=true', tableName: 'trail' });
    expect(s.grants).toEqual({ kind: 'connection-string', connectionString: 'UseDevelopmentStorage=true', tableName: 'vendinggrants' });
  });

  it('needs an https origin as the audit endpoint, and no audit target means no settings', () => {
    expect(ok({ AUDIT_TABLE_ENDPOINT: 'https://st.table.core.windows.net/' }).audit).toMatchObject({ endpoint: 'https://st.table.core.windows.net/' });
    for (const bad of ['http://st.table.core.windows.net', 'https://st.table.core.windows.net/vendingaudit', 'https://', 'https://st table', ' https://st.table.core.windows.net']) {
      const { settings, issues } = read({ AUDIT_TABLE_ENDPOINT: bad });
      expect(issues).toEqual([`AUDIT_TABLE_ENDPOINT: ${ENDPOINT_RULE}`]);
      expect(settings).toBeUndefined();
    }
    const { settings, issues } = read({ AUDIT_TABLE_ENDPOINT: '' });
    expect(issues).toEqual(['AUDIT_TABLE_ENDPOINT: missing (no audit sink, no tokens)']);
    expect(settings).toBeUndefined();
  });
});

describe('grants table settings', () => {
  it('checks the grants table name and refuses the audit table (append-only) in any case', () => {
    for (const bad of ['ab', '9grants', 'grants_1']) {
      const { settings, issues } = read({ GRANTS_TABLE_NAME: bad });
      expect(issues).toEqual([`GRANTS_TABLE_NAME: ${TABLE_RULE}`]);
      expect(settings).toBeUndefined();
    }
    const same = read({ AUDIT_TABLE_NAME: 'Trail', GRANTS_TABLE_NAME: 'tRAIL' });
    expect(same.issues).toEqual(['GRANTS_TABLE_NAME: must differ from AUDIT_TABLE_NAME (the audit table is append-only)']);
    expect(same.settings).toBeUndefined();
    expect(ok({ GRANTS_TABLE_NAME: 'Trail2' }).grants.tableName).toBe('Trail2');
  });

  it('uses its own connection string or https endpoint when given', () => {
    expect(ok({ GRANTS_CONNECTION_STRING: 'UseDevelopmentStorage=true' }).grants).toEqual({ kind: 'connection-string', connectionString: 'UseDevelopmentStorage=true', tableName: 'vendinggrants' });
    expect(ok({ GRANTS_TABLE_ENDPOINT: 'https://other.table.core.windows.net' }).grants).toEqual({ kind: 'endpoint', endpoint: 'https://other.table.core.windows.net', tableName: 'vendinggrants' });
    for (const bad of ['http://other.table.core.windows.net', 'https://other.table.core.windows.net/t']) {
      const { settings, issues } = read({ GRANTS_TABLE_ENDPOINT: bad });
      expect(issues).toEqual([`GRANTS_TABLE_ENDPOINT: ${ENDPOINT_RULE}`]);
      expect(settings).toBeUndefined();
    }
  });

  it('has no grants table without an audit target or its own', () => {
    const issues: string[] = [];
    expect(readServiceSettings({ AUDIT_HMAC_KEY: HMAC }, issues)).toBeUndefined();
    expect(issues).toEqual(['AUDIT_TABLE_ENDPOINT: missing (no audit sink, no tokens)']);
    // Its own target is enough for the grants table; the audit table is still missing.
    const own: string[] = [];
    expect(readServiceSettings({ AUDIT_HMAC_KEY: HMAC, GRANTS_TABLE_ENDPOINT: 'https://g.table.core.windows.net' }, own)).toBeUndefined();
    expect(own).toEqual(['AUDIT_TABLE_ENDPOINT: missing (no audit sink, no tokens)']);
  });
});

describe('switches and local overrides', () => {
  it('keeps Key Vault challenge verification on unless it is exactly off', () => {
    expect(ok().keyVaultChallengeVerification).toBe(true);
    expect(ok({ KEYVAULT_CHALLENGE_VERIFICATION: 'OFF' }).keyVaultChallengeVerification).toBe(true);
    expect(ok({ KEYVAULT_CHALLENGE_VERIFICATION: 'off' }).keyVaultChallengeVerification).toBe(false);
  });

  it('allows loopback workspaces only when the switch is exactly on', () => {
    expect(ok().allowLoopbackWorkspaces).toBe(false);
    expect(ok({ VENDING_ALLOW_LOOPBACK_WORKSPACES: 'true' }).allowLoopbackWorkspaces).toBe(false);
    expect(ok({ VENDING_ALLOW_LOOPBACK_WORKSPACES: 'on' }).allowLoopbackWorkspaces).toBe(true);
  });

  it('takes the client id when set, and an empty one as none', () => {
    expect(ok().azureClientId).toBeUndefined();
    expect(ok({ AZURE_CLIENT_ID: '' }).azureClientId).toBeUndefined();
    expect(ok({ AZURE_CLIENT_ID: 'abc' }).azureClientId).toBe('abc');
  });

  it('bounds the request budget to integers from 500 to 60000 ms', () => {
    expect(ok().requestBudgetMs).toBeUndefined();
    expect(ok({ VENDING_REQUEST_BUDGET_MS: '' }).requestBudgetMs).toBeUndefined();
    expect(ok({ VENDING_REQUEST_BUDGET_MS: '500' }).requestBudgetMs).toBe(500);
    expect(ok({ VENDING_REQUEST_BUDGET_MS: '60000' }).requestBudgetMs).toBe(60_000);
    for (const bad of ['499', '60001', '1500.5', 'soon']) {
      expect(read({ VENDING_REQUEST_BUDGET_MS: bad }).issues).toEqual(['VENDING_REQUEST_BUDGET_MS: must be an integer between 500 and 60000']);
    }
  });

  it('reads the telemetry pair, empty meaning none, and a sampling ratio from 0 to 1 (default 1)', () => {
    expect(ok().telemetry).toEqual({ connectionString: undefined, authenticationString: undefined, samplingRatio: 1 });
    expect(ok({ APPLICATIONINSIGHTS_CONNECTION_STRING: '', APPLICATIONINSIGHTS_AUTHENTICATION_STRING: '', OTEL_TRACES_SAMPLER_ARG: '' }).telemetry).toEqual({
      connectionString: undefined, authenticationString: undefined, samplingRatio: 1,
    });
    expect(ok({ APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=x', APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD' }).telemetry).toMatchObject({
      connectionString: 'InstrumentationKey=x', authenticationString: 'Authorization=AAD',
    });
    expect(ok({ OTEL_TRACES_SAMPLER_ARG: '0' }).telemetry.samplingRatio).toBe(0);
    expect(ok({ OTEL_TRACES_SAMPLER_ARG: '1' }).telemetry.samplingRatio).toBe(1);
    expect(ok({ OTEL_TRACES_SAMPLER_ARG: '0.25' }).telemetry.samplingRatio).toBe(0.25);
    for (const bad of ['-0.01', '1.01', 'half', 'Infinity']) {
      expect(read({ OTEL_TRACES_SAMPLER_ARG: bad }).issues).toEqual(['OTEL_TRACES_SAMPLER_ARG: must be a number from 0 to 1 (the share of traces sent)']);
    }
  });
});

describe('the audit fingerprint key', () => {
  it('is read from the vault by name (default audit-hmac-key) unless given as a value', () => {
    const noKey: Env = { AUDIT_TABLE_ENDPOINT: BASE.AUDIT_TABLE_ENDPOINT };
    const issues: string[] = [];
    expect(readServiceSettings(noKey, issues)?.auditKey).toEqual({ kind: 'secret', secretName: 'audit-hmac-key', unresolvedReference: false });
    expect(readServiceSettings({ ...noKey, AUDIT_HMAC_SECRET_NAME: '' }, issues)?.auditKey).toMatchObject({ secretName: 'audit-hmac-key' });
    expect(readServiceSettings({ ...noKey, AUDIT_HMAC_KEY: '' }, issues)?.auditKey).toMatchObject({ kind: 'secret' });
    expect(readServiceSettings({ ...noKey, AUDIT_HMAC_SECRET_NAME: 'K'.repeat(127) }, issues)?.auditKey).toMatchObject({ secretName: 'K'.repeat(127) });
    expect(issues).toEqual([]);
    for (const bad of ['K'.repeat(128), 'a_b', 'a b']) {
      const found: string[] = [];
      expect(readServiceSettings({ ...noKey, AUDIT_HMAC_SECRET_NAME: bad }, found)).toBeUndefined();
      expect(found).toEqual(['AUDIT_HMAC_SECRET_NAME: must be a Key Vault secret name (1-127 letters, digits and dashes)']);
    }
  });

  it('treats App Service unresolved reference text as a missing key, never as the key', () => {
    expect(isUnresolvedKeyVaultReference('@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/k)')).toBe(true);
    expect(isUnresolvedKeyVaultReference('  @microsoft.keyvault(VaultName=kv;SecretName=k)')).toBe(true);
    expect(isUnresolvedKeyVaultReference('x@Microsoft.KeyVault(')).toBe(false);
    expect(isUnresolvedKeyVaultReference('@Microsoft.KeyVault')).toBe(false);
    expect(ok({ AUDIT_HMAC_KEY: ' @Microsoft.KeyVault(VaultName=kv;SecretName=k)' }).auditKey).toEqual({ kind: 'secret', secretName: 'audit-hmac-key', unresolvedReference: true });
  });

  it('takes base64 (or base64url) of at least 32 bytes, trimmed; anything else is a reported mistake', () => {
    const key = Buffer.alloc(32, 0xfb);
    expect(parseAuditKey(` ${key.toString('base64')}\n`)).toEqual(key);
    expect(parseAuditKey(key.toString('base64url'))).toEqual(key);
    expect(parseAuditKey(Buffer.alloc(31, 1).toString('base64'))).toBeUndefined();
    expect(parseAuditKey(`${key.toString('base64')}!`)).toBeUndefined();
    expect(parseAuditKey('')).toBeUndefined();
    expect(ok({ AUDIT_HMAC_KEY: HMAC }).auditKey).toEqual({ kind: 'value', key: Buffer.alloc(32, 7) });
    const { settings, issues } = read({ AUDIT_HMAC_KEY: 'c2hvcnQ=' });
    expect(settings).toBeUndefined();
    expect(issues).toEqual(['AUDIT_HMAC_KEY: must be base64 of at least 32 bytes']);
  });
});

describe('anchored checks', () => {
  it('refuse a grants endpoint or an audit key with anything before the expected text', () => {
    expect(read({ GRANTS_TABLE_ENDPOINT: ' https://other.table.core.windows.net' }).issues).toEqual([`GRANTS_TABLE_ENDPOINT: ${ENDPOINT_RULE}`]);
    expect(read({ GRANTS_TABLE_ENDPOINT: 'xhttps://other.table.core.windows.net' }).issues).toEqual([`GRANTS_TABLE_ENDPOINT: ${ENDPOINT_RULE}`]);
    expect(parseAuditKey(`!${Buffer.alloc(40, 3).toString('base64')}`)).toBeUndefined();
  });
});
