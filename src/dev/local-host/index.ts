export { startLocalHost } from './local-host';
export type { LocalHost, LogLine } from './local-host';
export { matchRoute } from './match-route';
