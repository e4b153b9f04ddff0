export * from './errors.js';
export * from './ids.js';
export * from './tasks.js';
export * from './scheduler.js';
export * from './logs.js';
export * from './api.js';
export * from './tokens.js';
