import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The built local host (what `npm run host` runs); `npm test` builds before it runs the tests.
const HOST = join(__dirname, '..', 'dist', 'src', 'dev', 'host.js');
const SECRET = 'sEcReT-client-secret-that-must-not-print-0123456789';

function runHost(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HOST], { env: { PATH: process.env.PATH ?? '', PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    // A host that starts listening instead of exiting is a failure; it is stopped, never left behind.
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('local host (npm run host) with an invalid configuration', () => {
  it('exits with code 78 (EX_CONFIG), lists the problems, and prints no secret', async () => {
    expect(existsSync(HOST), 'build first (npm test does)').toBe(true);
    const { code, output } = await runHost({
      VENDING_CONFIG: '{"cloud":"AzurePublic","tenantId":"nope"}',
      AZURE_CLIENT_SECRET: SECRET,
      AUDIT_HMAC_KEY: 'c2hvcnQ=',
    });
    expect(code).toBe(78);
    expect(output).toMatch(/invalid configuration/);
    expect(output).toMatch(/tenantId/);
    expect(output).toMatch(/AUDIT_HMAC_KEY/);
    expect(output).not.toContain(SECRET);
    expect(output).not.toMatch(/\n\s+at /);
  });

  it('exits with 78 when no configuration is given at all', async () => {
    const { code, output } = await runHost({});
    expect(code).toBe(78);
    expect(output).toMatch(/VENDING_CONFIG/);
  });
});
