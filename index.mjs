// ESM entry: the CommonJS build re-exported by name (Node detects tsc's export names).
export * from './dist/index.js';
