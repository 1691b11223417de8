/**
 * Entry of a step process that runs the Lambda's own entry module, lambda/handler.ts, exactly as
 * deployed: configuration from REKEY_CONFIG, SDK clients pointed at the local endpoints by the standard
 * AWS_ENDPOINT_URL_* variables. Bundled by bench/build.ts.
 */
import { runStepProcess } from './step-process.js';

await runStepProcess(async () => (await import('../lambda/handler.js')).handler);
