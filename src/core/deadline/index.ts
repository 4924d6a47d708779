export { raceDeadline, requestBudget, budgetLeftMs, boundedCall, NO_BUDGET } from './deadline';
export type { RequestBudget } from './deadline';
export { deadlinesFor, retryAfterFor, DEFAULT_BUDGET_MS } from './deadlines';
export type { Deadlines } from './deadlines';
