import { readConfig } from './config.js';
import { createDeps } from './deps.js';
import { rotationFunction } from './rotation-function.js';

/** The rotation Lambda: configuration from REKEY_CONFIG, clients built once per container. */
export const handler = rotationFunction(createDeps(readConfig(process.env)));
