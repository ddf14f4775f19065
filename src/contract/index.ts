export * from './rules.js';
export type * from './types.js';
export * from './validator.js';
