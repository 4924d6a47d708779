export { raceDeadline, requestBudget, budgetLeftMs, boundedCall } from './deadline';
export type { RequestBudget } from './deadline';
export { deadlinesFor, retryAfterFor, DEFAULT_BUDGET_MS } from './deadlines';
export type { Deadlines } from './deadlines';
