/**
 * A rotation step as a process, for the chaos suite's command invoker: reads the event (JSON) on
 * stdin and calls lambda/handler.ts exactly as deployed (configuration from REKEY_CONFIG, clients
 * pointed at the local endpoints by AWS_ENDPOINT_URL_*), with Lambda's 15 minutes. Exit code 0 is
 * success; a failed step exits 1 (the handler has logged its error). Bundled by chaos-process.ts.
 */
const LAMBDA_TIMEOUT_MS = 900_000;

let input = '';
for await (const chunk of process.stdin) input += String(chunk);
const deadline = Date.now() + LAMBDA_TIMEOUT_MS;
try {
  const { handler } = await import('../../lambda/handler.js');
  await handler(JSON.parse(input), { getRemainingTimeInMillis: () => deadline - Date.now() });
} catch {
  process.exitCode = 1;
}
