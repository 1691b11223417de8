import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEvent } from '../../lambda/rotation-event.js';

describe('parsing the event', () => {
  it('accepts the four steps with an optional RotationToken', () => {
    assert.deepEqual(
      parseEvent({ Step: 'setSecret', SecretId: 's', ClientRequestToken: 't', RotationToken: 'r' }),
      {
        Step: 'setSecret',
        SecretId: 's',
        ClientRequestToken: 't',
        RotationToken: 'r',
      },
    );
    assert.deepEqual(parseEvent({ Step: 'finishSecret', SecretId: 's', ClientRequestToken: 't' }), {
      Step: 'finishSecret',
      SecretId: 's',
      ClientRequestToken: 't',
    });
  });

  it('refuses an unknown step with the service template wording', () => {
    assert.throws(() => parseEvent({ Step: 'dropTables', SecretId: 's', ClientRequestToken: 't' }), {
      name: 'EventError',
      message: 'Invalid step parameter dropTables',
    });
  });

  it('names the missing field', () => {
    assert.throws(() => parseEvent({ Step: 'setSecret', SecretId: 's' }), {
      message: 'event field ClientRequestToken must be a non-empty string',
    });
    assert.throws(() => parseEvent(null), { message: 'event must be a JSON object' });
    assert.throws(() => parseEvent('createSecret'), { message: 'event must be a JSON object' });
  });

  it('accepts the sweep action and refuses others', () => {
    assert.deepEqual(parseEvent({ action: 'sweep' }), { action: 'sweep' });
    assert.deepEqual(parseEvent({ action: 'sweep', SecretId: 's' }), { action: 'sweep', SecretId: 's' });
    assert.throws(() => parseEvent({ action: 'drop' }), { message: /unknown action 'drop'/ });
  });
});
