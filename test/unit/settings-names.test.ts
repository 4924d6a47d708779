import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { APP_SETTINGS, loadConfig } from '../../src/core/config';
import type { Env } from '../../src/core/config/read-document';
import { DEPLOYED_SETTINGS, LOCAL_ONLY_SETTINGS } from '../../src/core/config/settings';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const productFiles = [...sources('src/core'), ...sources('src/functions'), 'src/index.ts'];

describe('every app setting the service reads goes through APP_SETTINGS', () => {
  it('does not compile a read by a name outside the list (the build runs this file through tsc)', () => {
    const env: Env = { [APP_SETTINGS.KEYVAULT_CHALLENGE_VERIFICATION]: 'off' };
    // @ts-expect-error: not an app setting the service knows; reading it must not type-check.
    const unknown: unknown = env.NOT_A_LISTED_SETTING;
    expect(unknown).toBeUndefined();
    expect(env[APP_SETTINGS.KEYVAULT_CHALLENGE_VERIFICATION]).toBe('off');
  });

  it('has no process.env and no literal setting name outside settings.ts in the product code', () => {
    const offenders: string[] = [];
    for (const file of productFiles) {
      const text = readFileSync(file, 'utf8');
      // Under mutation testing the sources carry the mutator's own header, which reads the environment.
      const instrumented = /\bstryNS_[0-9a-f]+\b/.test(text);
      const readsEnv = file.endsWith('src/index.ts') ? /process\.env\./.test(text) : /process\.env/.test(text);
      if (!instrumented && readsEnv) offenders.push(`${file}: process.env`);
      if (file.endsWith(join('config', 'settings.ts'))) continue;
      for (const name of [...Object.values(APP_SETTINGS), ...LOCAL_ONLY_SETTINGS]) {
        if (new RegExp(`env\\s*(\\.\\s*${name}\\b|\\[\\s*['"\`]${name}['"\`])`).test(text)) offenders.push(`${file}: ${name}`);
      }
    }
    expect(offenders.join('\n')).toBe('');
  });

  it('keeps local switches out of what a deployment sets', () => {
    expect(LOCAL_ONLY_SETTINGS).toEqual(expect.arrayContaining([APP_SETTINGS.KEYVAULT_CHALLENGE_VERIFICATION, APP_SETTINGS.VENDING_ALLOW_LOOPBACK_WORKSPACES]));
    for (const local of LOCAL_ONLY_SETTINGS) expect(DEPLOYED_SETTINGS).not.toContain(local);
    expect(DEPLOYED_SETTINGS).toEqual(expect.arrayContaining(['VENDING_CONFIG', 'AZURE_CLIENT_ID', 'AUDIT_TABLE_ENDPOINT', 'AUDIT_TABLE_NAME']));
  });

  it('reads the two local switches by their listed names', () => {
    const base = {
      VENDING_CONFIG: JSON.stringify({
        cloud: 'AzurePublic', tenantId: '11111111-2222-3333-4444-555555555555',
        callers: { audiences: ['api://x'], allowedTenants: ['11111111-2222-3333-4444-555555555555'] },
        keyVaultUrl: 'https://kv.vault.azure.net', servicePrincipals: {}, workspaces: {}, grants: [],
      }),
      AUDIT_TABLE_ENDPOINT: 'https://st.table.core.windows.net',
      AUDIT_HMAC_KEY: Buffer.alloc(32, 1).toString('base64'),
    };
    expect(loadConfig(base).service).toMatchObject({ keyVaultChallengeVerification: true, allowLoopbackWorkspaces: false });
    expect(loadConfig({ ...base, [APP_SETTINGS.KEYVAULT_CHALLENGE_VERIFICATION]: 'off', [APP_SETTINGS.VENDING_ALLOW_LOOPBACK_WORKSPACES]: 'on' }).service)
      .toMatchObject({ keyVaultChallengeVerification: false, allowLoopbackWorkspaces: true });
    expect(loadConfig({ ...base, [APP_SETTINGS.KEYVAULT_CHALLENGE_VERIFICATION]: 'false', [APP_SETTINGS.VENDING_ALLOW_LOOPBACK_WORKSPACES]: 'yes' }).service)
      .toMatchObject({ keyVaultChallengeVerification: true, allowLoopbackWorkspaces: false });
  });
});
