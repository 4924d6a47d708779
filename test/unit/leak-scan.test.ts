import { describe, expect, it } from 'vitest';
import { CredentialLedger } from '../../src/dev/sandbox';
import { credentialShapes, leakNeedles, pemBodyLines } from '../e2e/harness';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXBhcnQtb2YtaXQ';
const PAT = `dapi${'0123456789abcdef'.repeat(2)}`;
const KEY = ['-----BEGIN PRIVATE KEY-----', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7', 'aGVsbG8td29ybGQtdGhpcy1pcy1hLWtleS1saW5lLTAwMDAwMDAw', '-----END PRIVATE KEY-----'].join('\n');
const CERT = ['-----BEGIN CERTIFICATE-----', 'MIIDazCCAlOgAwIBAgIUcHVibGljLWNlcnRpZmljYXRlLWxpbmU=', '-----END CERTIFICATE-----'].join('\n');

describe('the e2e leak scan', () => {
  it('finds a JWT or a PAT by its shape, also inside JSON-escaped text', () => {
    expect(credentialShapes(`token=${JWT}`)).toBe('JWT');
    expect(credentialShapes(JSON.stringify({ log: `Bearer ${JWT}` }))).toBe('JWT');
    expect(credentialShapes(`{"t":"${PAT}"}`)).toBe('PAT');
    expect(credentialShapes('eyJhbGciOi only a header, and dapi123 short')).toBeUndefined();
    expect(credentialShapes('request_id=eyJ-like but no dots; fingerprint 0123456789abcdef')).toBeUndefined();
  });

  it('searches a JWT and its signature part, skips short strings', () => {
    expect(leakNeedles([JWT, 'short', PAT])).toEqual([JWT, 'c2lnbmF0dXJlLXBhcnQtb2YtaXQ', PAT]);
  });

  it('searches a PEM key line by line, so a joined or escaped key is still found', () => {
    const lines = pemBodyLines(KEY);
    expect(lines).toHaveLength(2);
    const escaped = JSON.stringify({ msg: KEY.replace(/\n/g, '') });
    for (const line of lines) expect(escaped.includes(line)).toBe(true);
  });
});

describe('CredentialLedger (the sandbox records every credential it issues or receives)', () => {
  it('records bearer and management tokens, form secrets and assertions, answered tokens and PATs', async () => {
    const ledger = new CredentialLedger();
    const handler = ledger.tap(() => ({ status: 200, json: { access_token: 'issued-access-token-0001', nested: { token_value: PAT }, value: 'not-a-credential-field' } }));
    await handler({
      method: 'POST', path: '/t', query: new URLSearchParams(),
      headers: { authorization: `Bearer ${JWT}`, 'x-databricks-azure-sp-management-token': 'management-token-0000001', 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(new URLSearchParams({ client_secret: 'client-secret-value-0001', client_assertion: 'client-assertion-value-01', scope: 'api://AzureADTokenExchange/.default' }).toString()),
    });
    expect(ledger.all().sort()).toEqual([JWT, PAT, 'client-assertion-value-01', 'client-secret-value-0001', 'issued-access-token-0001', 'management-token-0000001'].sort());
  });

  it('keeps the lines of a stored private key but not the certificate beside it', () => {
    const ledger = new CredentialLedger();
    ledger.recordSecret(`${KEY}\n${CERT}`);
    ledger.recordSecret('plain-client-secret-value');
    ledger.record('short');
    expect(ledger.all()).toEqual([...pemBodyLines(KEY), 'plain-client-secret-value']);
  });
});
