import { describe, expect, it } from 'vitest';
import type { CheckState } from '../../src/core/vend/health';
import { HealthTracker } from '../../src/core/vend';
import { healthStatusCode } from '../../src/core/vend/health';

describe('HealthTracker', () => {
  it('starts with every upstream unknown and the app ok', () => {
    const snap = new HealthTracker().snapshot('1.2.3');
    expect(snap).toEqual({ status: 'ok', version: '1.2.3', checks: { config: 'ok', keyvault: 'unknown', entra: 'unknown', audit: 'unknown', audit_key: 'ok' } });
    expect(healthStatusCode(snap)).toBe(200);
  });

  it('reports what traffic last saw per upstream: a failure degrades, a later success clears it', () => {
    const h = new HealthTracker();
    h.report('keyvault')(true);
    h.report('entra')(false);
    let snap = h.snapshot('v');
    expect(snap.checks).toMatchObject({ keyvault: 'ok', entra: 'failing', audit: 'unknown' });
    expect(snap.status).toBe('degraded');
    expect(healthStatusCode(snap)).toBe(200);
    h.report('entra')(true);
    h.report('audit')(true);
    snap = h.snapshot('v');
    expect(snap.status).toBe('ok');
    expect(snap.checks).toMatchObject({ keyvault: 'ok', entra: 'ok', audit: 'ok' });
  });

  it.each<[CheckState, 'ok' | 'degraded']>([
    ['ok', 'ok'],
    ['stale', 'degraded'],
    ['failing', 'degraded'],
    ['unknown', 'ok'],
  ])('reports API grants in state %s as app %s', (state, status) => {
    const h = new HealthTracker();
    const source = { health: (): CheckState => state };
    expect(h.watchGrants(source)).toBe(source);
    const snap = h.snapshot('v');
    expect(snap.checks.grants).toBe(state);
    expect(snap.status).toBe(status);
  });

  it('is unavailable (503) while the audit key is missing, naming what is missing and no value', () => {
    const h = new HealthTracker();
    let problem: string | undefined = 'secret audit-hmac-key in Key Vault';
    const source = { problem: () => problem };
    expect(h.watchAuditKey(source)).toBe(source);
    h.report('keyvault')(true);
    const snap = h.snapshot('v');
    expect(snap).toEqual({ status: 'unavailable', version: 'v', checks: { config: 'ok', keyvault: 'ok', entra: 'unknown', audit: 'unknown', audit_key: 'missing' }, missing: ['secret audit-hmac-key in Key Vault'] });
    expect(healthStatusCode(snap)).toBe(503);
    problem = undefined;
    const later = h.snapshot('v');
    expect(later.status).toBe('ok');
    expect(later.checks.audit_key).toBe('ok');
    expect(later.missing).toBeUndefined();
    expect(healthStatusCode(later)).toBe(200);
  });

  it('stays degraded, not unavailable, when only an upstream fails', () => {
    const h = new HealthTracker();
    h.report('audit')(false);
    expect(healthStatusCode(h.snapshot('v'))).toBe(200);
    expect(h.snapshot('v').status).toBe('degraded');
  });
});
