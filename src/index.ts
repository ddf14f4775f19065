/** nodicorn's public API. */

export { main } from './cli/main.js';
export { checkHeader, checkStatus, HOP_BY_HOP } from './contract/rules.js';
export type * from './contract/types.js';
export type { ValidatorOptions, ViolationCode } from './contract/validator.js';
export { assertClosed, environViolations, validator, WsgiViolation } from './contract/validator.js';
export * from './errors/registry.js';
export { buildEnviron } from './http/environ.js';
export { InProcessBackend, runApp } from './server/inprocess-backend.js';
export { startServer } from './server/server.js';
