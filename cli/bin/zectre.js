#!/usr/bin/env node
// Run the TypeScript sources directly, so `npm install` is the only setup step (no build).
import { register } from 'tsx/esm/api';

register();
await import('../main.ts');
