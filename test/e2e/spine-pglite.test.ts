import { test } from 'node:test';
import { spineScenario } from './spine-scenario.js';

// Same scenario on embedded PGlite; when the whole suite already runs on PGlite, once is enough.
if (process.env.ZECTRE_TEST_DB === 'pglite') test.skip('spine on PGlite: already covered by spine.test.ts');
else spineScenario('pglite');
