import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { logAuditKeyChange, packageVersion } from '../../src/core/vend/create-vend-deps';

// The two helpers of the production wiring that read nothing from Azure: the version /api/health
// reports, and what the app says when the audit key comes and goes.

const roots: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A directory tree with the given package.json files (path → content), and the module's own folder. */
function tree(files: Record<string, string>, moduleDir: string): string {
  const root = mkdtempSync(join(tmpdir(), 'pkg-version-'));
  roots.push(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  mkdirSync(join(root, moduleDir), { recursive: true });
  return join(root, moduleDir);
}

const ours = (version?: string): string => JSON.stringify({ name: 'dbx-token-vending', ...(version ? { version } : {}) });

describe('packageVersion', () => {
  it('reads this package\'s version three levels up (the sources: src/core/vend)', () => {
    expect(packageVersion(tree({ 'package.json': ours('1.2.3') }, 'src/core/vend'))).toBe('1.2.3');
  });

  it('looks four levels up when three levels up is not this package (the build: dist/src/core/vend)', () => {
    const from = tree({ 'package.json': ours('2.0.0'), 'dist/package.json': JSON.stringify({ name: 'other', version: '9.9.9' }) }, 'dist/src/core/vend');
    expect(packageVersion(from)).toBe('2.0.0');
    expect(packageVersion(tree({ 'package.json': ours('2.0.1'), 'dist/package.json': '{ not json' }, 'dist/src/core/vend'))).toBe('2.0.1');
    expect(packageVersion(tree({ 'package.json': ours('2.0.2') }, 'dist/src/core/vend'))).toBe('2.0.2');
  });

  it('says unknown when neither level holds this package with a version', () => {
    expect(packageVersion(tree({ 'package.json': JSON.stringify({ name: 'other', version: '1.0.0' }) }, 'src/core/vend'))).toBe('unknown');
    expect(packageVersion(tree({ 'package.json': ours() }, 'src/core/vend'))).toBe('unknown');
    expect(packageVersion(tree({}, 'src/core/vend'))).toBe('unknown');
  });
});

describe('logAuditKeyChange (the default onAuditKeyChange)', () => {
  it('warns with the reason while the app cannot vend, and says so in one line when it can', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const info = vi.spyOn(console, 'info').mockImplementation(() => undefined);
    logAuditKeyChange('audit key: Key Vault secret "k" not found');
    expect(warn.mock.calls).toEqual([['dbx-token-vending cannot vend yet: audit key: Key Vault secret "k" not found']]);
    expect(info).not.toHaveBeenCalled();
    logAuditKeyChange(undefined);
    expect(info.mock.calls).toEqual([['dbx-token-vending: audit key read from Key Vault; vending is on']]);
    expect(warn).toHaveBeenCalledOnce();
  });
});
