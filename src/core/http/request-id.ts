import { randomUUID } from 'node:crypto';

const CALLER_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A caller's own x-request-id is kept when it is safe to log and to use in a table key; otherwise a new one is made. */
export function resolveRequestId(header: string | null | undefined): string {
  return header && CALLER_REQUEST_ID.test(header) ? header : randomUUID();
}
