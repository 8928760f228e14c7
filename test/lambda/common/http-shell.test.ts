import { MalformedPayloadError } from '../../../lambda/common/errors';
import { fromApiGatewayEvent } from '../../../lambda/common/http';
import { correlationIdOf, gatewayRequestIdOf, httpShell, type RefusalLogging, type RequestPath, type RequestState } from '../../../lambda/common/http-shell';
import type { HandlerLogger } from '../../../lambda/common/logger';
import { jsonResponse } from '../../../lambda/common/http';
import { apiGatewayEvent } from '../../support/signers';

type Line = { level: string; message: string; attributes: Record<string, unknown> };

function capture(): HandlerLogger & { lines: Line[] } {
  const lines: Line[] = [];
  return {
    lines,
    info: (message, attributes) => lines.push({ level: 'INFO', message, attributes }),
    warn: (message, attributes) => lines.push({ level: 'WARN', message, attributes }),
    error: (message, attributes) => lines.push({ level: 'ERROR', message, attributes }),
  };
}

const request = (headers: Record<string, string>) => fromApiGatewayEvent(apiGatewayEvent('{}', { headers }), 0);

describe('correlationIdOf', () => {
  test('is the sender\'s X-Correlation-Id when it is well formed', () => {
    expect(correlationIdOf(request({ 'X-Correlation-Id': ' order-7 ' }))).toBe('order-7');
  });

  test('falls back to the trace id of a traceparent, but never an all-zero one', () => {
    expect(correlationIdOf(request({ 'X-Correlation-Id': 'has spaces', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' })))
      .toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    const zeros = request({ traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' });
    expect(correlationIdOf(zeros)).toBe(zeros.requestId);
  });

  test('is a new UUID when the request names nothing', () => {
    expect(correlationIdOf({ ...request({}), requestId: undefined })).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('gatewayRequestIdOf', () => {
  test('is API Gateway\'s request id when well formed, else a new UUID', () => {
    expect(gatewayRequestIdOf({ requestContext: { requestId: 'req-1' } } as never)).toBe('req-1');
    expect(gatewayRequestIdOf({ requestContext: { requestId: 'no spaces please' } } as never)).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('httpShell', () => {
  /** A request path that answers 200, or throws what `fail` gives. */
  function pathThat(fail?: () => unknown): RequestPath<RequestState & { step?: string }> {
    return {
      begin: (_request, correlationId) => ({ correlationId }),
      logAttributes: (_request, state) => ({ source: 'src', correlationId: state.correlationId, step: state.step }),
      serve: async (_request, state, logger, redactor) => {
        redactor?.collect([{ email: 'jane.doe@example.com' }]);
        state.step = 'served';
        if (fail !== undefined) throw fail();
        logger.info('served', { correlationId: state.correlationId });
        return jsonResponse(200, { ok: true });
      },
    };
  }
  const byCode: RefusalLogging = { outcome: false, causeAttribute: 'cause', causeOf: (error) => (error instanceof Error && error.cause instanceof Error ? error.cause.name : undefined) };
  const withOutcome: RefusalLogging = { ...byCode, outcome: true, causeAttribute: 'causeName' };

  test('refuses a request it cannot read under API Gateway\'s request id, naming nothing the sender sent', async () => {
    // GIVEN a GET with the sender's correlation id
    const logger = capture();
    const handler = httpShell({ config: { source: 'src' }, logger }, byCode, pathThat());
    const event = { ...apiGatewayEvent('{}', { headers: { 'X-Correlation-Id': 'sender-id' } }), httpMethod: 'GET' };
    // WHEN it is handled
    const response = await handler(event);
    // THEN it is a 405 under the gateway's id, logged as rejected
    expect(response.statusCode).toBe(405);
    expect(response.headers?.['X-Correlation-Id']).toBe(event.requestContext.requestId);
    expect(logger.lines).toEqual([{ level: 'WARN', message: 'rejected', attributes: { source: 'src', correlationId: event.requestContext.requestId, statusCode: 405, errorName: 'MethodNotAllowedError' } }]);
  });

  test('logs a refusal with the path\'s attributes and its cause, and an outcome when asked to', async () => {
    const logger = capture();
    const fail = () => new MalformedPayloadError('bad', { cause: new TypeError('inner') });
    const handler = httpShell({ config: { source: 'src' }, logger }, withOutcome, pathThat(fail));
    const response = await handler(apiGatewayEvent('{}', { headers: { 'X-Correlation-Id': 'c-1' } }));
    expect(response.statusCode).toBe(400);
    expect(logger.lines).toEqual([{
      level: 'WARN',
      message: 'rejected',
      attributes: { source: 'src', correlationId: 'c-1', step: 'served', outcome: 'rejected', statusCode: 400, errorName: 'MalformedPayloadError', causeName: 'TypeError' },
    }]);
  });

  test('answers an unexpected error 500 without its message, and logs its stack, scrubbed of redacted values', async () => {
    // GIVEN a source that redacts /email, and a bug that quotes it
    const logger = capture();
    const handler = httpShell({ config: { source: 'src', redactPaths: ['/email'] }, logger }, withOutcome, pathThat(() => new Error('no account for jane.doe@example.com')));
    // WHEN a request meets the bug
    const response = await handler(apiGatewayEvent('{}', { headers: { 'X-Correlation-Id': 'c-2' } }));
    // THEN the answer says nothing, and the log line has the stack without the value
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('jane.doe');
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatchObject({ level: 'ERROR', message: 'unexpected error', attributes: { outcome: 'failed', statusCode: 500, errorName: 'Error' } });
    expect(String(logger.lines[0].attributes.stack)).toContain('no account for [REDACTED]');
  });

  test('without redact paths, the path logs through the logger it was given', async () => {
    const logger = capture();
    const response = await httpShell({ config: { source: 'src' }, logger }, byCode, pathThat())(apiGatewayEvent('{}', { headers: { 'X-Correlation-Id': 'c-3' } }));
    expect(response.statusCode).toBe(200);
    expect(logger.lines).toEqual([{ level: 'INFO', message: 'served', attributes: { correlationId: 'c-3' } }]);
  });
});
