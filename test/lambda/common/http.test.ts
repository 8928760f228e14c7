import { DependencyUnavailableError, errorCodeOf, MethodNotAllowedError, RequestHeaderFieldsTooLargeError, StreamThrottledError } from '../../../lambda/common/errors';
import { errorResponse, fromApiGatewayEvent, MAX_HEADER_VALUE_BYTES, requestUrl, singleHeader, withHeaderAliases } from '../../../lambda/common/http';
import { apiGatewayEvent } from '../../support/signers';

function captured(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

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
    expect(() => singleHeader(request, 'x-twice')).toThrow(/header x-twice must appear once; it was sent 2 times/);
  });

  describe('header names that collide without regard to case, and header maps that disagree', () => {
    const withHeaders = (multiValueHeaders: Record<string, string[]> | null, headers: Record<string, string> | null) =>
      fromApiGatewayEvent({ ...apiGatewayEvent('{}'), multiValueHeaders, headers } as never, 0);

    test('fails when one header is sent under two spellings with different values: 400, never last-wins', () => {
      const request = withHeaders({ 'X-Signature': ['good'], 'x-signature': ['forged'] }, { 'X-Signature': 'good', 'x-signature': 'forged' });
      expect(request.headers.get('x-signature')).toEqual(['good', 'forged']);
      expect(() => singleHeader(request, 'x-signature')).toThrow(/^header x-signature must appear once; it was sent 2 times \(header names are compared without regard to case\)$/);
    });

    test('fails when the two maps disagree about a header: both values are kept, so reading it is a 400', () => {
      // `headers` says one thing, `multiValueHeaders` another, whichever a bypass would rely on.
      const cases: [Record<string, string[]>, Record<string, string>][] = [[{ 'X-Signature': ['a'] }, { 'X-Signature': 'b' }], [{ 'X-Signature': ['a'] }, { 'x-signature': 'b' }]];
      for (const [multi, single] of cases) {
        const request = withHeaders(multi, single);
        expect(request.headers.get('x-signature')).toEqual(['a', 'b']);
        expect(() => singleHeader(request, 'x-signature')).toThrow(/must appear once/);
      }
    });

    test('agreeing maps, as API Gateway sends them, count a value once; a name in only one map is read from it', () => {
      const request = withHeaders({ 'X-Signature': ['a'], 'X-Only-Multi': ['m'] }, { 'X-Signature': 'a', 'X-Only-Single': 's' });
      expect([singleHeader(request, 'x-signature'), singleHeader(request, 'x-only-multi'), singleHeader(request, 'x-only-single')]).toEqual(['a', 'm', 's']);
      // API Gateway puts the last of several values in `headers`: still two values, as sent.
      expect(withHeaders({ 'X-Twice': ['1', '2'] }, { 'X-Twice': '2' }).headers.get('x-twice')).toEqual(['1', '2']);
    });

    test('values that are not strings, or lists that are not lists, are ignored; no map at all is no header', () => {
      const request = withHeaders({ 'X-A': [null, 7, 'ok'] as never, 'X-B': 'not-a-list' as never, 'X-C': [] }, { 'X-D': null as never, 'X-E': 5 as never });
      expect([...request.headers.entries()]).toEqual([['x-a', ['ok']]]);
      expect(withHeaders(null, null).headers.size).toBe(0);
    });
  });

  describe('methods and sizes', () => {
    test.each(['GET', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'post', undefined, 'G E T'])('fails with 405 and Allow: POST for %s', (method) => {
      const event = { ...apiGatewayEvent('{}'), httpMethod: method } as never;
      expect(() => fromApiGatewayEvent(event, 0)).toThrow(MethodNotAllowedError);
      const response = errorResponse(captured(() => fromApiGatewayEvent(event, 0)), 'c-1');
      expect(response.statusCode).toBe(405);
      expect(response.headers).toMatchObject({ Allow: 'POST', 'Content-Type': 'application/json; charset=utf-8' });
      const shown = typeof method === 'string' && /^[A-Z]+$/.test(method) ? ` ${method}` : '';
      expect(JSON.parse(response.body)).toEqual({ error: 'MethodNotAllowed', message: `this endpoint accepts only POST; the method${shown} is not allowed`, correlationId: 'c-1' });
    });

    test('a header value of 10,240 bytes is read; one byte more is a 431 naming the header, not the value', () => {
      expect(fromApiGatewayEvent(apiGatewayEvent('{}', { headers: { 'User-Agent': 'u'.repeat(MAX_HEADER_VALUE_BYTES) } }), 0).headers.get('user-agent')?.[0]).toHaveLength(10_240);
      const error = captured(() => fromApiGatewayEvent(apiGatewayEvent('{}', { headers: { 'User-Agent': `${'u'.repeat(MAX_HEADER_VALUE_BYTES)}é` } }), 0));
      expect(error).toBeInstanceOf(RequestHeaderFieldsTooLargeError);
      expect(errorResponse(error, 'c').statusCode).toBe(431);
      expect((error as Error).message).toBe('header user-agent has a value of 10242 bytes; a header value may be at most 10240 bytes');
      // A name that is not a plain token is not quoted.
      const odd = captured(() => fromApiGatewayEvent(apiGatewayEvent('{}', { headers: { 'X Odd<script>': 'v'.repeat(20_000) } }), 0));
      expect((odd as Error).message).toBe('a header has a value of 20000 bytes; a header value may be at most 10240 bytes');
    });

    test('headers of more than 32 KiB in all are a 431', () => {
      const headers = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`X-Pad-${i}`, 'p'.repeat(5_000)]));
      expect(captured(() => fromApiGatewayEvent(apiGatewayEvent('{}', { headers }), 0))).toMatchObject({
        statusCode: 431, message: 'the headers are 40056 bytes in all; at most 32768 bytes are accepted',
      });
    });
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

describe('errorCodeOf', () => {
  test('names an error by its name, code and HTTP status, never its message', () => {
    const sdk = (name: string, status?: number) => Object.assign(new Error(`${name}: body {"card":"4242"}`), { name, $metadata: { httpStatusCode: status } });
    expect(errorCodeOf(sdk('InternalFailure', 500))).toBe('InternalFailure HTTP 500');
    expect(errorCodeOf(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED', $metadata: {} }))).toBe('ECONNREFUSED');
    expect(errorCodeOf(Object.assign(new Error('timed out'), { name: 'TimeoutError', code: 'ETIMEDOUT' }))).toBe('TimeoutError ETIMEDOUT');
    // A 503 whose body was an HTML page: the SDK's SyntaxError says less than the status.
    expect(errorCodeOf(sdk('SyntaxError', 503))).toBe('HTTP 503');
    expect(errorCodeOf(Object.assign(new Error('x'), { name: 'Bad name with {"card":"4242"}', code: 'also bad!' }))).toBe('Error');
    expect(errorCodeOf(undefined)).toBeUndefined();
    for (const error of [sdk('InternalFailure', 500), sdk('SyntaxError', 503)]) expect(errorCodeOf(error)).not.toContain('4242');
  });
});

describe('withHeaderAliases', () => {
  const aliases = { 'webhook-id': 'svix-id', 'webhook-signature': 'svix-signature' };

  test('fills a canonical header from its alias, without touching the request it was given', () => {
    const request = fromApiGatewayEvent(apiGatewayEvent('{}', { headers: { 'Svix-Id': 'msg_1', 'Webhook-Signature': 'v1,abc' } }), 0);
    const aliased = withHeaderAliases(request, aliases);
    expect(aliased.headers.get('webhook-id')).toEqual(['msg_1']);
    // The canonical header the sender sent wins over its alias.
    expect(aliased.headers.get('webhook-signature')).toEqual(['v1,abc']);
    expect(request.headers.has('webhook-id')).toBe(false);
  });

  test('a canonical header present, or no alias sent, leaves the request as it is', () => {
    const canonical = fromApiGatewayEvent(apiGatewayEvent('{}', { headers: { 'Webhook-Id': 'msg_1', 'Svix-Id': 'msg_2' } }), 0);
    expect(withHeaderAliases(canonical, aliases)).toBe(canonical);
    expect(singleHeader(canonical, 'webhook-id')).toBe('msg_1');
    const neither = fromApiGatewayEvent(apiGatewayEvent('{}', { headers: {} }), 0);
    expect(withHeaderAliases(neither, aliases)).toBe(neither);
  });
});
