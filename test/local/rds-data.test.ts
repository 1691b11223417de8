import { createPgliteEngine } from '../../local/index.js';
import { dataApiSuite } from '../support/local-data-api-suite.js';

dataApiSuite({
  label: 'PGlite',
  dialect: 'postgres',
  database: 'postgres',
  singleConnection: true,
  open: () => createPgliteEngine(),
});
