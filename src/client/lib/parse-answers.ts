import type { TokenMode, VendedToken, WorkspaceEntitlement } from '../types';
import { VendingClientError } from '../vending-client-error';
import type { Answer } from './send';
import { suffix } from './problem';

type Shape = Record<string, 'string' | 'number' | 'boolean' | 'object'>;

const TOKEN_SHAPE: Shape = { access_token: 'string', token_type: 'string', expires_on: 'number', mode: 'string', workspace: 'object', service_principal: 'object', headers: 'object' };
const WORKSPACE_SHAPE: Shape = { name: 'string', host: 'string', resource_id: 'string' };
const ENTITLEMENT_SHAPE: Shape = { ...WORKSPACE_SHAPE, max_lifetime_seconds: 'number', management_token: 'boolean' };
const MODES: readonly TokenMode[] = ['aad', 'pat', 'oauth', 'user'];

/**
 * A 200 body is checked before anything trusts it: a proxy or a wrong endpoint can answer 200
 * too. Only the shape is named in the error, never a value.
 */
export function parseVendedToken(answer: Answer): VendedToken {
  const body = answer.body;
  if (!hasShape(body, TOKEN_SHAPE) || !MODES.includes(body.mode as TokenMode) || !hasShape(body.workspace, WORKSPACE_SHAPE) || !isStringMap(body.headers) || !optionalStrings(body.scopes)) {
    throw invalid(answer, 'a token');
  }
  return body as unknown as VendedToken;
}

export function parseWorkspaces(answer: Answer): WorkspaceEntitlement[] {
  const body = answer.body;
  if (!Array.isArray(body) || !body.every((item) => hasShape(item, ENTITLEMENT_SHAPE) && Array.isArray(item.modes))) throw invalid(answer, 'a workspace list');
  return body as WorkspaceEntitlement[];
}

function hasShape(value: unknown, shape: Shape): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  return Object.entries(shape).every(([key, type]) => typeof record[key] === type && record[key] !== null);
}

function optionalStrings(value: unknown): boolean {
  return value === undefined || (Array.isArray(value) && value.every((v) => typeof v === 'string'));
}

function isStringMap(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string');
}

function invalid(answer: Answer, what: string): VendingClientError {
  return new VendingClientError(`The vending API answered HTTP ${answer.status} but not with ${what} ${suffix(answer.status, answer.requestId)}.`, {
    code: 'invalid_response',
    status: answer.status,
    requestId: answer.requestId,
  });
}
