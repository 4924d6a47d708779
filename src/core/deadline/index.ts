export { raceDeadline, withRequestBudget, budgetLeftMs, boundedCall, outsideBudget } from './deadline';
export { deadlinesFor, retryAfterFor, DEFAULT_BUDGET_MS } from './deadlines';
export type { Deadlines } from './deadlines';
