import type { TokenMode, TokenRequest } from '../types';
import { normalizeApiScopes, splitScopeArgs } from './api-scopes';

/** A mistake in the command line: exit code 2, the message and the usage on stderr. */
export class UsageError extends Error {
  override readonly name = 'UsageError' as const;
}

/** The parsed options a token request is built from (a subset of the CLI's `parseArgs` values). */
export interface TokenArgs {
  readonly workspace?: string | undefined;
  readonly mode?: string | undefined;
  readonly scopes?: readonly string[] | undefined;
  readonly 'min-validity'?: string | undefined;
  readonly lifetime?: string | undefined;
  readonly 'management-token'?: boolean | undefined;
  readonly purpose?: string | undefined;
}

export const ALL_MODES: readonly TokenMode[] = ['aad', 'pat', 'oauth', 'user'];

/**
 * `--workspace`, `--mode`, `--scopes` and the mode's own options as a `TokenRequest`, with the
 * service's rules checked first: `--scopes` for oauth and pat, `--lifetime` for pat,
 * `--management-token` for aad, each scope in Databricks API scope syntax.
 */
export function tokenRequestFrom(args: TokenArgs, modes: readonly TokenMode[] = ALL_MODES): TokenRequest {
  const mode = oneOf<TokenMode>(args.mode ?? 'aad', modes, 'mode');
  const scopes = args.scopes === undefined ? undefined : scopeSet(args.scopes);
  if (scopes && mode !== 'oauth' && mode !== 'pat') throw new UsageError('--scopes applies to --mode oauth and --mode pat.');
  if (args.lifetime !== undefined && mode !== 'pat') throw new UsageError('--lifetime applies to --mode pat.');
  if (args['management-token'] && mode !== 'aad') throw new UsageError('--management-token applies to --mode aad.');
  return {
    workspace: required(args.workspace, 'workspace'),
    mode,
    ...(scopes ? { scopes } : {}),
    ...optionalSeconds(args['min-validity'], 'minValiditySeconds', 'min-validity'),
    ...optionalSeconds(args.lifetime, 'lifetimeSeconds', 'lifetime'),
    ...(args['management-token'] ? { managementToken: true } : {}),
    ...(args.purpose === undefined ? {} : { purpose: args.purpose }),
  };
}

function scopeSet(values: readonly string[]): string[] {
  try {
    return normalizeApiScopes(splitScopeArgs(values));
  } catch (err) {
    throw new UsageError(`--${err instanceof Error ? err.message : 'scopes are not valid.'}`);
  }
}

export function required(value: string | undefined, name: string): string {
  if (!value) throw new UsageError(`--${name} is required.`);
  return value;
}

export function oneOf<T extends string>(value: string, allowed: readonly T[], name: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}.`);
  return value as T;
}

export function optionalSeconds<K extends string>(value: string | undefined, key: K, name: string): Partial<Record<K, number>> {
  if (value === undefined) return {};
  if (!/^\d{1,9}$/.test(value)) throw new UsageError(`--${name} must be a whole number of seconds.`);
  return { [key]: Number(value) } as Partial<Record<K, number>>;
}
