import { readFileSync } from 'node:fs';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { RekeyConfigInput } from '../lambda/index.js';
import { rekeyAppOptions } from '../lib/app-context.js';
import { RekeyStack } from '../lib/index.js';

// The CDK app: reads the rekey config file and the stack options from context, nothing more.
const app = new App();
const options = rekeyAppOptions((key) => app.node.tryGetContext(key));
let config: unknown;
try {
  config = JSON.parse(readFileSync(options.configPath, 'utf8'));
} catch (cause) {
  throw new Error(
    `cannot read the rekey config file '${options.configPath}' as JSON (choose it with -c rekeyConfig=FILE)`,
    { cause },
  );
}
// RekeyStack validates the config with the Lambda's own parser before creating anything.
new RekeyStack(app, options.stackName, { ...options.stackProps, config: config as RekeyConfigInput });
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
