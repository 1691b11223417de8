import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { awsClients } from '../../bin/cli/clients.js';

describe('the CLI SDK clients', () => {
  it('take the region, the profile and one endpoint for both services from the flags', async () => {
    const { secretsManager, rdsData } = awsClients({
      region: 'eu-west-1',
      profile: 'ops',
      endpointUrl: 'http://127.0.0.1:9999',
    });
    for (const client of [secretsManager, rdsData]) {
      assert.equal(await client.config.region(), 'eu-west-1');
      assert.equal(client.config.profile, 'ops');
      const endpoint = await client.config.endpoint?.();
      assert.equal(endpoint?.hostname, '127.0.0.1');
      assert.equal(endpoint?.port, 9999);
    }
  });

  it('make one attempt per Data API call, leaving retries to rekey as the Lambda does', async () => {
    const { rdsData } = awsClients({ region: 'eu-west-1' });
    assert.equal(await rdsData.config.maxAttempts(), 1);
  });

  it('leave the endpoint to the SDK (and its AWS_ENDPOINT_URL_* variables) without --endpoint-url', () => {
    const { secretsManager } = awsClients({ region: 'eu-west-1' });
    assert.equal(secretsManager.config.endpoint, undefined);
  });
});
