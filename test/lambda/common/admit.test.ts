import { admit } from '../../../lambda/common/admit';
import { PayloadTooLargeError, SignatureMismatchError } from '../../../lambda/common/errors';
import { fromApiGatewayEvent } from '../../../lambda/common/http';
import type { SecretCandidates } from '../../../lambda/common/secrets';
import { WebhookAuth } from '../../../lib';
import { ingestConfig } from '../../support/presets';
import { apiGatewayEvent, stripeSignature } from '../../support/signers';

const SECRET = 'whsec_admit_test_secret_0123456789';
const NOW_S = 1_800_000_000;
const config = ingestConfig((s) => WebhookAuth.stripe(s), { source: 'stripe', maxBodyBytes: 64 });

function signed(body: string, secret = SECRET) {
  return fromApiGatewayEvent(apiGatewayEvent(body, { headers: { 'Stripe-Signature': stripeSignature(secret, body, NOW_S) } }), NOW_S * 1000);
}

describe('admit', () => {
  const rules = { auth: config.auth, maxBodyBytes: config.maxBodyBytes, endpoint: 'source' };
  const now = () => NOW_S * 1000;

  test('fails when the body is larger than the endpoint accepts, before any secret is read', async () => {
    let reads = 0;
    const secrets = { get: async () => { reads += 1; return [SECRET]; } };
    const admitted = admit({ ...rules, endpoint: 'trigger' }, signed('x'.repeat(65)), now, { secrets });
    await expect(admitted).rejects.toThrow(PayloadTooLargeError);
    await expect(admitted).rejects.toThrow(/body is 65 bytes; this trigger accepts at most 64/);
    expect(reads).toBe(0);
  });

  test('fails when the signature does not verify, whatever the body is', async () => {
    await expect(admit(rules, signed('not json at all', 'whsec_someone_else_entirely'), now, { secrets: { get: async () => [SECRET] } }))
      .rejects.toThrow(SignatureMismatchError);
  });

  test('returns the stage of the secret that verified the request, and counts a non-current one', async () => {
    // GIVEN a rotation under way: the sender still signs with the previous secret
    const candidates: SecretCandidates = [{ stage: 'AWSCURRENT', value: 'whsec_the_new_value_0123456789' }, { stage: 'AWSPREVIOUS', value: SECRET }];
    const secrets = { get: async () => candidates.map((c) => c.value), candidates: async () => candidates };
    let nonCurrent = 0;
    // WHEN the request is admitted
    const stage = await admit(rules, signed('{}'), now, { secrets, metrics: { nonCurrentSecret: () => { nonCurrent += 1; } } });
    // THEN its stage is returned and counted once
    expect(stage).toBe('AWSPREVIOUS');
    expect(nonCurrent).toBe(1);
  });
});
