import { readFileSync } from 'node:fs';
import { APP_SETTINGS } from './settings';
import type { AppSettingName, TelemetrySettingName } from './settings';

/**
 * The app settings as the core sees them: only names in APP_SETTINGS can be read, so a setting
 * read by a literal name outside that list (which infra's test compares with the template) does
 * not compile. The process environment is assignable to it.
 */
export type Env = { readonly [K in AppSettingName | TelemetrySettingName]?: string | undefined };

/** The raw config document from VENDING_CONFIG (JSON text) or VENDING_CONFIG_FILE (a path). */
export function readConfigDocument(env: Env, issues: string[]): unknown {
  const inline = env[APP_SETTINGS.VENDING_CONFIG];
  const file = env[APP_SETTINGS.VENDING_CONFIG_FILE];
  if (inline && file) {
    issues.push(`${APP_SETTINGS.VENDING_CONFIG} and ${APP_SETTINGS.VENDING_CONFIG_FILE}: set one, not both`);
    return undefined;
  }
  if (!inline && !file) {
    issues.push(`${APP_SETTINGS.VENDING_CONFIG}: missing (or set ${APP_SETTINGS.VENDING_CONFIG_FILE} to a file path)`);
    return undefined;
  }
  let text = inline;
  const source = inline ? APP_SETTINGS.VENDING_CONFIG : APP_SETTINGS.VENDING_CONFIG_FILE;
  if (!text) {
    try {
      text = readFileSync(file as string, 'utf8');
    } catch {
      issues.push(`${source}: the file cannot be read`);
      return undefined;
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    issues.push(`${source}: not valid JSON (${(err as Error).message})`);
    return undefined;
  }
}
