import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, expect } from 'vitest';
import { startSandbox } from '../../src/dev/sandbox';
import type { Sandbox, SandboxOptions } from '../../src/dev/sandbox';
import { spawnHost } from '../../src/dev/spawn-host';
import type { SpawnHostOptions, SpawnedHost } from '../../src/dev/spawn-host';

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: Record<string, unknown>;
}

/**
 * The sandbox plus function hosts started over real HTTP, as `npm run host` runs them. Every
 * reply, every host log and every secret in play is kept, so a test can assert nothing leaked.
 */
export class Stack {
  readonly hosts: SpawnedHost[] = [];
  readonly replies: Reply[] = [];
  readonly vendedTokens: string[] = [];
  readonly callerTokens: string[] = [];
  /** More text the leak scan reads: answers and audit rows a test collected outside `call()`. */
  readonly haystacks: (() => Promise<string>)[] = [];

  private constructor(readonly sandbox: Sandbox) {}

  static async start(options: SandboxOptions = {}): Promise<Stack> {
    const sandbox = await startSandbox({ quiet: true, ...options });
    // This test process talks to the sandbox's HTTPS servers too (the workspace, to use a vended token).
    setDefaultCACertificates([...getCACertificates('default'), sandbox.caPem]);
    return new Stack(sandbox);
  }

  /** A sandbox with one function host, the usual start of a test file. */
  static async withHost(): Promise<{ stack: Stack; host: SpawnedHost }> {
    const stack = await Stack.start();
    return { stack, host: await stack.host() };
  }

  /** A fresh (cold) function host: empty caches, exactly the sandbox's app settings. */
  async host(overrides: Record<string, string> = {}): Promise<SpawnedHost> {
    return this.hostWith({ ...this.sandbox.hostEnv(), ...overrides });
  }

  /** A fresh host with exactly `settings` (nothing of the sandbox's defaults), kept for the leak scan. */
  async hostWith(settings: Record<string, string>, options: SpawnHostOptions = {}): Promise<SpawnedHost> {
    const host = await spawnHost(settings, options);
    this.hosts.push(host);
    return host;
  }

  async callerToken(opts?: Parameters<Sandbox['issueCallerToken']>[0]): Promise<string> {
    const token = await this.sandbox.issueCallerToken(opts);
    this.callerTokens.push(token);
    return token;
  }

  async call(host: SpawnedHost, path: string, init: { method?: string; token?: string | null; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
    const token = init.token === undefined ? await this.callerToken() : init.token;
    const headers: Record<string, string> = { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...init.headers };
    let body: string | undefined;
    if (init.body !== undefined) {
      body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      headers['Content-Type'] ??= 'application/json';
    }
    const res = await fetch(`${host.url}${path}`, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      // not JSON: kept as text for the assertion that follows
    }
    const reply = { status: res.status, headers: res.headers, text, json };
    this.replies.push(reply);
    if (res.status === 200 && typeof json.access_token === 'string') {
      this.vendedTokens.push(json.access_token);
      const mgmt = (json.headers as Record<string, string> | undefined)?.['X-Databricks-Azure-SP-Management-Token'];
      if (mgmt) this.vendedTokens.push(mgmt);
    }
    return reply;
  }

  vend(host: SpawnedHost, body: unknown, init: { token?: string | null; headers?: Record<string, string> } = {}): Promise<Reply> {
    return this.call(host, '/token', { ...init, body });
  }

  async auditRows(): Promise<Record<string, unknown>[]> {
    const client = TableClient.fromConnectionString(this.sandbox.audit.connectionString, this.sandbox.audit.tableName, { allowInsecureConnection: true });
    const rows: Record<string, unknown>[] = [];
    for await (const row of client.listEntities()) rows.push(row);
    return rows;
  }

  /**
   * Every credential in play: SP and app secrets, the HMAC key, caller and vended tokens, and
   * everything the sandbox's authorities issued or received (the service's own Key Vault and
   * token-exchange tokens, client assertions it signed, PATs it created or revoked).
   */
  secrets(): string[] {
    const { apps } = this.sandbox;
    return [
      apps.vendingApp.secret,
      apps.callerApp.secret,
      apps.otherCallerApp.secret,
      ...Object.values(apps.servicePrincipals).map((sp) => sp.secret),
      this.sandbox.auditHmacKey,
      ...this.callerTokens,
      ...this.vendedTokens,
      ...this.sandbox.authority.credentials.all(),
    ];
  }

  /**
   * What must never carry a credential: host output, the bodies and headers of every answer
   * that is not a 200 (a 200 legitimately carries the vended token), the audit rows, and what a
   * test file added to `haystacks`.
   */
  async leakHaystacks(): Promise<{ where: string; text: string }[]> {
    return [
      ...this.hosts.map((h, i) => ({ where: `host ${i} output`, text: h.output() })),
      ...this.replies.filter((r) => r.status !== 200).map((r) => ({ where: `${r.status} reply`, text: r.text + JSON.stringify([...r.headers]) })),
      { where: 'audit rows', text: JSON.stringify(await this.auditRows()) },
      ...(await Promise.all(this.haystacks.map(async (h, i) => ({ where: `extra haystack ${i}`, text: await h() })))),
    ];
  }

  /** No known secret or token, and nothing shaped like a JWT or a PAT, where none may be. */
  async expectNoLeaks(extra: readonly string[] = []): Promise<void> {
    const haystacks = await this.leakHaystacks();
    const needles = leakNeedles([...this.secrets(), ...extra]);
    expect(needles.length).toBeGreaterThan(0);
    for (const { where, text } of haystacks) {
      for (const needle of needles) if (text.includes(needle)) expect.fail(`a secret or token leaked into ${where}`);
      const shape = credentialShapes(text);
      if (shape) expect.fail(`something shaped like a ${shape} is in ${where}`);
    }
  }

  /** The end of every e2e file: the leak scan, then stop, which runs even when the scan fails. */
  async finish(extra: readonly string[] = []): Promise<void> {
    try {
      await this.expectNoLeaks(extra);
    } finally {
      await this.stop();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.stop()));
    await this.sandbox.stop();
  }
}

/** A JWT (header and payload are base64url JSON objects: `eyJ`) or a Databricks PAT (`dapi` + 32 hex). */
const JWT_SHAPE = /eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/;
const PAT_SHAPE = /dapi[0-9a-f]{32}/;

/** Which credential shape the text carries, if any. Also sees JSON-escaped text (shapes have no escapable characters). */
export function credentialShapes(text: string): 'JWT' | 'PAT' | undefined {
  if (JWT_SHAPE.test(text)) return 'JWT';
  if (PAT_SHAPE.test(text)) return 'PAT';
  return undefined;
}

/**
 * The strings to search for: each secret, and for a JWT also its signature part (a JWT cut at
 * a dot is still the token). Short strings are skipped: they would match by chance.
 */
export function leakNeedles(secrets: readonly string[]): string[] {
  const needles = secrets.flatMap((s) => (s.split('.').length === 3 ? [s, s.split('.')[2] ?? ''] : [s]));
  return [...new Set(needles)].filter((n) => n.length >= 16);
}

/** Each base64 line of a PEM private key's body: searched on its own, since a log may join or escape the lines. */
export function pemBodyLines(pem: string): string[] {
  return pem.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith('-----'));
}

export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/**
 * Registers a test file's hooks: a sandbox with one host before its tests, `finish()` after them.
 * The fields are set once `beforeAll` has run.
 */
export function stackWithHost(): { readonly stack: Stack; readonly host: SpawnedHost } {
  const ctx = {} as { stack: Stack; host: SpawnedHost };
  beforeAll(async () => void Object.assign(ctx, await Stack.withHost()));
  afterAll(async () => {
    await ctx.stack?.finish();
  });
  return ctx;
}
