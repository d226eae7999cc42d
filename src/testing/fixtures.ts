/*
 * State for tests, made through the API as a client would make it (never by writing rows), each
 * maker failing the test when the API refuses. One module per subject under fixtures/.
 */
export * from './fixtures/alerts.js';
export * from './fixtures/credits.js';
export * from './fixtures/metrics.js';
export * from './fixtures/payg.js';
export * from './fixtures/plans.js';
export * from './fixtures/records.js';
export * from './fixtures/subscriptions.js';
export * from './fixtures/tenants.js';
export * from './fixtures/test-clocks.js';
export * from './fixtures/usage.js';
export * from './fixtures/webhooks.js';
