/**
 * The configuration cannot be used. Thrown once, at start-up, with every offending path, so an
 * operator fixes the document in one go. It is a programmer/operator error, not a request
 * error: it never reaches a caller.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError' as const;
  readonly code = 'ERR_CONFIG_INVALID' as const;
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super(`invalid configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.issues = issues;
  }
}
