export { toProblemResponse, jsonResponse, baseHeaders, PROBLEM_TYPE_BASE } from './problem';
export type { ProblemBody, CoreResponse } from './problem';
export { resolveRequestId } from './request-id';
export { readJsonBody, MAX_BODY_BYTES } from './read-json-body';
export type { IncomingBody } from './read-json-body';
export { readBounded } from './read-bounded';
export type { ChunkReader } from './read-bounded';
export type { Logger } from './logger';
