import { expect } from 'vitest';
import { ConfigError, loadConfig } from '../../src/core/config';
import type { Env } from '../../src/core/config';

/** The issues loadConfig refuses these settings with; fails the test if it accepts them. */
export function configIssues(env: Env): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}
