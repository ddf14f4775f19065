export * from './rules.js';
export type * from './types.js';
