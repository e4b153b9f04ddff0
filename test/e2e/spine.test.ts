import { spineScenario } from './spine-scenario.js';

spineScenario(process.env.ZECTRE_TEST_DB ?? 'postgres');
