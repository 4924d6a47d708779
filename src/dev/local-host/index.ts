export { startLocalHost } from './local-host';
export type { LocalHost, LogLine } from './local-host';
export { compileRoute } from './match-route';
