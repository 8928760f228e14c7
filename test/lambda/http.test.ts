import { DependencyUnavailableError, StreamThrottledError } from '../../lambda/shared/errors';
import { errorResponse, fromApiGatewayEvent, requestUrl, singleHeader } from '../../lambda/shared/http';
import { apiGatewayEvent } from '../support/signers';

describe('fromApiGatewayEvent', () => {
  test('decodes a base64 body to the exact bytes', () => {
    const bytes = Buffer.from([0x00, 0xff, 0x7b, 0x0a, 0x0d]);
    expect(fromApiGatewayEvent(apiGatewayEvent(bytes), 0).rawBody.equals(bytes)).toBe(true);
  });

  test('reads a text body as UTF-8 when API Gateway did not encode it', () => {
    const event = { ...apiGatewayEvent(''), body: '{"name":"Zoë"}', isBase64Encoded: false };
    expect(fromApiGatewayEvent(event, 0).rawBody.toString('utf8')).toBe('{"name":"Zoë"}');
  });

  test('lower-cases header names and keeps every value of a repeated header', () => {
    const event = apiGatewayEvent('{}', { headers: { 'X-One': 'a' } });
    event.multiValueHeaders = { 'X-One': ['a'], 'X-Twice': ['1', '2'] };
    const request = fromApiGatewayEvent(event, 0);
    expect(singleHeader(request, 'x-one')).toBe('a');
    expect(request.headers.get('x-twice')).toEqual(['1', '2']);
    expect(() => singleHeader(request, 'x-twice')).toThrow(/header x-twice must appear once/);
  });

  test('takes the receive time from API Gateway, else from the clock', () => {
    expect(fromApiGatewayEvent(apiGatewayEvent('{}', { requestTimeEpoch: 1234 }), 99).receivedAtMs).toBe(1234);
    const event = apiGatewayEvent('{}');
    (event.requestContext as { requestTimeEpoch?: number }).requestTimeEpoch = undefined;
    expect(fromApiGatewayEvent(event, 99).receivedAtMs).toBe(99);
  });
});

describe('requestUrl', () => {
  const request = (options: { host?: string; domainName?: string; requestPath?: string }) => {
    const event = apiGatewayEvent('{}', { headers: options.host === undefined ? {} : { Host: options.host }, domainName: options.domainName, requestPath: options.requestPath });
    if (options.requestPath === undefined) (event.requestContext as { path?: string }).path = undefined;
    return fromApiGatewayEvent(event, 0);
  };

  test('is https, API Gateway\'s domain name and its path (stage included), never the Host header', () => {
    // GIVEN a request whose Host says one thing and API Gateway's request context another
    const sent = request({ host: 'other-app.example.com/sms/inbound#', domainName: 'a1b2.execute-api.us-east-1.amazonaws.com', requestPath: '/prod/sms' });
    // THEN the URL is the one API Gateway served
    expect(requestUrl(sent)).toBe('https://a1b2.execute-api.us-east-1.amazonaws.com/prod/sms');
  });

  test('is the configured URL when the deployment names one', () => {
    expect(requestUrl(request({ domainName: 'a1b2.execute-api.us-east-1.amazonaws.com', requestPath: '/prod/sms' }), 'https://hooks.example.com/sms')).toBe('https://hooks.example.com/sms');
  });

  test.each([
    [undefined, '/prod/sms'],
    ['', '/prod/sms'],
    ['a.com:99999x', '/prod/sms'],
    ['abc 123.example.com', '/prod/sms'],
    ['a%zz.com', '/prod/sms'],
    ['[::1', '/prod/sms'],
    ['a.com/x#', '/prod/sms'],
    ['hooks.example.com', undefined],
    ['hooks.example.com', 'prod/sms'],
    ['hooks.example.com', '/prod/sms#x'],
    ['hooks.example.com', '/prod/sms?x=1'],
    ['hooks.example.com', '/prod/ sms'],
  ])('is undefined, without throwing, for domain name %p and path %p', (domainName, requestPath) => {
    // The Host header, however malformed, is never read.
    const sent = request({ host: '[::1', domainName, requestPath });
    expect(requestUrl(sent)).toBeUndefined();
  });
});

describe('errorResponse', () => {
  test('a typed error keeps its status, headers and public message', () => {
    const response = errorResponse(new StreamThrottledError(17, 3), 'corr-9');
    expect(response.statusCode).toBe(429);
    expect(response.headers).toMatchObject({ 'Retry-After': '17', 'X-Correlation-Id': 'corr-9', 'Content-Type': 'application/json; charset=utf-8' });
    expect(JSON.parse(response.body)).toEqual({
      error: 'StreamThrottled',
      message: 'the stream is busy; nothing was accepted, retry the whole request later',
      correlationId: 'corr-9',
    });
  });

  test('the cause of a typed error is never shown', () => {
    const response = errorResponse(new DependencyUnavailableError('Secrets Manager', { cause: new Error('arn:aws:secretsmanager:secret-detail') }), 'c');
    expect(response.statusCode).toBe(503);
    expect(response.body).not.toContain('secret-detail');
  });

  test('an unknown error is a 500 that says nothing about it', () => {
    const response = errorResponse(new RangeError('body was {"card":"4242"}'), 'c');
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('4242');
  });
});
