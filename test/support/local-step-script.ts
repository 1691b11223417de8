import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A rotation function as a dependency-free Node script, for the command invoker: one process per
 * step, the event as JSON on stdin, the local endpoint found through AWS_ENDPOINT_URL_SECRETS_MANAGER
 * alone. It speaks the JSON 1.1 protocol with fetch so a process starts in milliseconds. Test hooks by
 * environment: REKEY_TEST_STEP_LOG (append each event), REKEY_TEST_FAIL_ONCE (`<step>:<marker file>`:
 * exit 3 at that step the first time).
 */
export const STEP_SCRIPT = `
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
let input = '';
for await (const chunk of process.stdin) input += chunk;
const event = JSON.parse(input);
const endpoint = process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
if (process.env.REKEY_TEST_STEP_LOG) appendFileSync(process.env.REKEY_TEST_STEP_LOG, JSON.stringify({ event, endpoint }) + '\\n');
const [failStep, marker] = (process.env.REKEY_TEST_FAIL_ONCE ?? '').split(':');
if (failStep === event.Step && marker && !existsSync(marker)) {
  writeFileSync(marker, 'failed once');
  process.exit(3);
}
async function call(operation, body) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'x-amz-target': 'secretsmanager.' + operation, 'content-type': 'application/x-amz-json-1.1' },
    body: JSON.stringify(body),
  });
  const out = await response.json();
  if (!response.ok) throw Object.assign(new Error(out.message), { name: out.__type });
  return out;
}
const { SecretId, ClientRequestToken: token } = event;
if (event.Step === 'createSecret') {
  try {
    await call('GetSecretValue', { SecretId, VersionId: token, VersionStage: 'AWSPENDING' });
  } catch (error) {
    if (error.name !== 'ResourceNotFoundException') throw error;
    await call('PutSecretValue', { SecretId, ClientRequestToken: token, SecretString: '{"k":"from a step process"}', VersionStages: ['AWSPENDING'], RotationToken: event.RotationToken });
  }
} else if (event.Step === 'finishSecret') {
  const described = await call('DescribeSecret', { SecretId });
  const current = Object.entries(described.VersionIdsToStages).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
  if (current !== token) {
    await call('UpdateSecretVersionStage', { SecretId, VersionStage: 'AWSCURRENT', MoveToVersionId: token, RemoveFromVersionId: current });
  }
}
`;

/** Writes the step script into `dir` and returns its path. */
export function writeStepScript(dir: string): string {
  const path = join(dir, 'rotation-step.mjs');
  writeFileSync(path, STEP_SCRIPT);
  return path;
}
