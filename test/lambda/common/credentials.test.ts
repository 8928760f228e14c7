import { activeValues, verifyBearer, verifyClientCertificate } from '../../../lambda/common/credentials';
import { ForbiddenError, InvalidTokenError, MissingCredentialsError } from '../../../lambda/common/errors';
import { fromApiGatewayEvent } from '../../../lambda/common/http';
import { apiGatewayEvent } from '../../support/signers';

const request = (headers: Record<string, string>, clientCertSubject?: string) =>
  fromApiGatewayEvent(apiGatewayEvent('{}', { headers, clientCertSubject }), 0);

describe('activeValues', () => {
  test('a plain secret is one value', () => {
    expect(activeValues('tok_live_1')).toEqual(['tok_live_1']);
  });

  test('{"active": [...]} lists every value accepted during a rotation', () => {
    expect(activeValues('{"active":["tok_new","tok_old"]}')).toEqual(['tok_new', 'tok_old']);
  });

  test('other JSON is one value, used as it is', () => {
    expect(activeValues('{"active":[]}')).toEqual(['{"active":[]}']);
    expect(activeValues('{"token":"x"}')).toEqual(['{"token":"x"}']);
    expect(activeValues('{not json')).toEqual(['{not json']);
  });
});

describe('verifyBearer', () => {
  const config = { kind: 'bearer' as const, secretArn: 'arn', header: 'authorization', scheme: 'Bearer' };

  test('accepts any active token, whatever the case of the scheme', () => {
    expect(() => verifyBearer(config, request({ Authorization: 'Bearer tok_old' }), ['tok_new', 'tok_old'])).not.toThrow();
    expect(() => verifyBearer(config, request({ authorization: 'bearer   tok_new' }), ['tok_new', 'tok_old'])).not.toThrow();
  });

  test('fails when the token is not active, or only a prefix of one', () => {
    expect(() => verifyBearer(config, request({ Authorization: 'Bearer tok_gone' }), ['tok_new'])).toThrow(InvalidTokenError);
    expect(() => verifyBearer(config, request({ Authorization: 'Bearer tok_ne' }), ['tok_new'])).toThrow(InvalidTokenError);
  });

  test('fails when the header is missing or uses another scheme', () => {
    expect(() => verifyBearer(config, request({}), ['tok'])).toThrow(MissingCredentialsError);
    expect(() => verifyBearer(config, request({ Authorization: 'Basic dG9rOg==' }), ['tok'])).toThrow(/must use the Bearer scheme/);
    expect(() => verifyBearer(config, request({ Authorization: 'Bearertok' }), ['tok'])).toThrow(MissingCredentialsError);
  });

  test('a bare token in a custom header', () => {
    const custom = { kind: 'bearer' as const, secretArn: 'arn', header: 'x-api-token' };
    expect(() => verifyBearer(custom, request({ 'X-Api-Token': 'tok' }), ['tok'])).not.toThrow();
    expect(() => verifyBearer(custom, request({ 'X-Api-Token': 'Bearer tok' }), ['tok'])).toThrow(InvalidTokenError);
  });

  test('the error never quotes the token', () => {
    try {
      verifyBearer(config, request({ Authorization: 'Bearer tok_secret_value_123' }), ['other']);
    } catch (error) {
      expect((error as Error).message).not.toContain('tok_secret_value_123');
    }
  });
});

describe('verifyClientCertificate', () => {
  const subject = 'CN=orders.internal,O=Example Corp,C=US';

  test('returns the subject API Gateway verified', () => {
    expect(verifyClientCertificate({ kind: 'mtls' }, request({}, subject))).toEqual({ subject });
  });

  test('fails with 401 when no client certificate was presented (not through the mTLS domain)', () => {
    expect(() => verifyClientCertificate({ kind: 'mtls' }, request({}))).toThrow(MissingCredentialsError);
  });

  test('fails with 403 when the subject is not allowed', () => {
    const config = { kind: 'mtls' as const, allowedSubjects: ['CN=billing.internal,O=Example Corp,C=US'] };
    expect(() => verifyClientCertificate(config, request({}, subject))).toThrow(ForbiddenError);
    expect(verifyClientCertificate({ ...config, allowedSubjects: [subject] }, request({}, subject))).toEqual({ subject });
  });
});
