/**
 * The fuzzer's oracle on hand-made requests: what it calls a forgery, an ambiguous request, or
 * harmless. If it called everything harmless, the fuzzer could never fail; these tests prove it
 * can, and that it does not cry wolf over what the schemes allow.
 */
import { createHmac } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { duplicateKeyPointer } from './json';
import { crashOf, duplicateKeyOf, expectedEvents, faithful, judge } from './oracle';
import { cloneDraft, DOMAIN, removeHeader, setHeader, toEvent, type Draft } from './request';
import { Rng } from './rng';
import { allSchemes, makeKeys, OTHER_TWILIO_HOST, TokenMinter, type GenContext, type Scheme, type SignedRequest } from './schemes';

const keys = makeKeys();
const nowS = () => Math.floor(Date.now() / 1000);
const ctx: GenContext = { keys, jwtIssuer: 'https://idp.example.com/', tokens: new TokenMinter(keys.jwt, 'https://idp.example.com/', nowS), nowS };
const schemes = allSchemes({ keys, jwksUri: 'https://127.0.0.1:9/.well-known/jwks.json', jwtIssuer: 'https://idp.example.com/' });
const scheme = (name: string) => schemes.find((s) => s.name === name) as Scheme;

function signed(name: string, seed = 1): SignedRequest {
  return scheme(name).sign(ctx, new Rng(seed));
}

function eventOf(name: string, d: Draft): APIGatewayProxyEvent {
  return toEvent(d, { path: scheme(name).path, requestId: 'r-1', requestTimeEpoch: Date.now() });
}

function verdict(name: string, req: SignedRequest, edit: (d: Draft) => void = () => undefined) {
  const d = cloneDraft(req.draft);
  edit(d);
  return judge(scheme(name), req.signed, eventOf(name, d));
}

describe('what the oracle calls a forgery', () => {
  test('an unmutated, validly signed request is harmless, for every scheme', () => {
    for (const s of schemes) {
      const req = s.sign(ctx, new Rng(3));
      expect({ scheme: s.name, ...judge(s, req.signed, eventOf(s.name, req.draft)) }).toEqual({ scheme: s.name });
    }
  });

  test('a flipped body byte is forged where the body is signed, harmless where it is not', () => {
    const flip = (d: Draft) => {
      (d.body as Buffer)[5] ^= 1;
    };
    expect(verdict('stripe', signed('stripe'), flip).forged).toBe('body differs from what was signed');
    expect(verdict('bearer', signed('bearer'), flip)).toEqual({});
  });

  test('another signed timestamp is forged; the same one padded with spaces is not', () => {
    const req = signed('slack');
    const ts = req.signed.material.timestamp;
    expect(verdict('slack', req, (d) => setHeader(d, 'x-slack-request-timestamp', `0${ts}`)).forged).toBe('timestamp differs from what was signed');
    expect(verdict('slack', req, (d) => setHeader(d, 'x-slack-request-timestamp', ` ${ts} `))).toEqual({});
    expect(verdict('slack', req, (d) => removeHeader(d, 'x-slack-request-timestamp')).forged).toBe('timestamp is missing');
  });

  test("Stripe's timestamp is read from every t= item of the signature header", () => {
    const req = signed('stripe');
    expect(verdict('stripe', req, (d) => setHeader(d, 'stripe-signature', `${d.headers.find(([n]) => n === 'Stripe-Signature')?.[1]},t=1`)).conflict)
      .toBe('timestamp comes with the signed value and another');
  });

  test('a request signed with another key, or with a timestamp outside the window, is forged however intact', () => {
    expect(judge(scheme('github'), scheme('github').sign(ctx, new Rng(1), { otherKey: true }).signed, eventOf('github', signed('github').draft)).forged)
      .toBe('signed with another key');
    const stale = scheme('planasonix-trigger').sign(ctx, new Rng(1), { timestampOffset: -3600 });
    expect(judge(scheme('planasonix-trigger'), stale.signed, eventOf('planasonix-trigger', stale.draft)).forged).toBe('signed timestamp outside the window');
  });

  test('a re-cased header name is harmless; a re-cased repeat with another value is a conflict', () => {
    const req = signed('github');
    expect(verdict('github', req, (d) => {
      d.headers = d.headers.map(([n, v]) => [n.toUpperCase(), v]);
    })).toEqual({});
    expect(verdict('github', req, (d) => d.headers.push(['x-hub-signature-256', 'sha256=00'])).conflict).toBe('x-hub-signature-256 sent with 2 different values');
  });

  test('multiValueHeaders is what counts; headers only stands in for names it lacks', () => {
    const req = signed('slack');
    const ts = req.signed.material.timestamp;
    expect(verdict('slack', req, (d) => d.headersOverride.push(['X-Slack-Request-Timestamp', '1']))).toEqual({});
    expect(verdict('slack', req, (d) => d.mvhOverride.push(['X-Slack-Request-Timestamp', ['1']])).forged).toBe('timestamp differs from what was signed');
    expect(verdict('slack', req, (d) => d.mvhOverride.push(['X-Slack-Request-Timestamp', undefined]))).toEqual({});
    expect(verdict('slack', req, (d) => d.mvhOverride.push(['X-Slack-Request-Timestamp', [ts, '1']])).conflict).toBe('timestamp comes with the signed value and another');
  });

  test("Twilio: the deployment's URL is what counts, never Host; pairs may be reordered", () => {
    const req = signed('twilio-form');
    expect(verdict('twilio-form', req, (d) => setHeader(d, 'Host', `${OTHER_TWILIO_HOST}/sms/inbound#`))).toEqual({});
    expect(verdict('twilio-form', req, (d) => setHeader(d, 'Host', `${DOMAIN}:443`))).toEqual({});
    const other = scheme('twilio-form').sign(ctx, new Rng(1), { url: `https://${OTHER_TWILIO_HOST}/sms/inbound` });
    expect(judge(scheme('twilio-form'), other.signed, eventOf('twilio-form', other.draft)).forged).toBe('url differs from what was signed');
    const reordered = (d: Draft) => {
      d.body = Buffer.from(new URLSearchParams([...new URLSearchParams((d.body as Buffer).toString())].reverse()).toString());
    };
    expect(verdict('twilio-form', req, reordered)).toEqual({});
    // Twilio signs names and values run together: moving the boundary between them is not seen.
    expect(verdict('twilio-form', req, (d) => {
      d.body = Buffer.from((d.body as Buffer).toString().replace(/NumMedia=([^&]*)/, 'NumMedia$1='));
    })).toEqual({});
    expect(verdict('twilio-form', req, (d) => setHeader(d, 'Content-Type', 'application/json')).forged).toBe('mode differs from what was signed');
    // A JSON body is covered by bodySHA256 byte for byte, whatever the content type says it is.
    expect(verdict('twilio-json', signed('twilio-json'), (d) => setHeader(d, 'Content-Type', 'application/x-www-form-urlencoded'))).toEqual({});
  });

  test('bearer: the token, whatever the case of the scheme word; JWT: header.payload, not the signature bytes; mTLS: the serial, whatever its spelling', () => {
    const bearer = signed('bearer');
    const token = bearer.signed.material.token;
    expect(verdict('bearer', bearer, (d) => setHeader(d, 'Authorization', `BEARER   ${token}`))).toEqual({});
    expect(verdict('bearer', bearer, (d) => setHeader(d, 'Authorization', `Bearer ${token}x`)).forged).toBe('token differs from what was signed');
    const jwt = signed('jwt');
    expect(verdict('jwt', jwt, (d) => setHeader(d, 'Authorization', String(d.headers.find(([n]) => n === 'Authorization')?.[1]).replace(/\.[^.]*$/, '.AAAA')))).toEqual({});
    const mtls = signed('mtls');
    expect(verdict('mtls', mtls, (d) => {
      (d.clientCert as Record<string, unknown>).serialNumber = '00:A1:0B:FF';
    })).toEqual({});
    expect(verdict('mtls', mtls, (d) => {
      (d.clientCert as Record<string, unknown>).serialNumber = 'a1:0b:fe';
    }).forged).toBe('serial differs from what was signed');
  });
});

describe('payload checks', () => {
  test('duplicate keys are found at any depth, by their decoded names, and only in JSON', () => {
    expect(duplicateKeyPointer('{"a":1,"b":{"c":[{"x":1,"\\u0078":2}]}}')).toBe('/b/c/0/x');
    expect(duplicateKeyPointer('{"amount_total":-5,"amount_total":5}')).toBe('/amount_total');
    expect(duplicateKeyPointer('{"a":{"a":1},"b":[{"a":1},{"a":2}]}')).toBeUndefined();
    expect(duplicateKeyPointer('{"a":1,"a":')).toBeUndefined();
    const req = signed('bearer');
    const d = cloneDraft(req.draft);
    d.body = Buffer.from('{"id":1,"id":2}');
    expect(duplicateKeyOf(eventOf('bearer', d))).toBe('/id');
    setHeader(d, 'Content-Type', 'text/plain');
    expect(duplicateKeyOf(eventOf('bearer', d))).toBeUndefined();
  });

  test('a record is faithful when it is the body as parsed: a form keeps names objects inherit', () => {
    const d = cloneDraft(signed('bearer').draft);
    setHeader(d, 'Content-Type', 'application/x-www-form-urlencoded');
    d.body = Buffer.from('constructor=x&a=1&a=2');
    const expected = expectedEvents(eventOf('bearer', d));
    expect(faithful([JSON.parse('{"constructor":"x","a":["1","2"]}')], expected)).toBe(true);
    expect(faithful([{ constructor: [null, 'x'], a: ['1', '2'] }], expected)).toBe(false);
    expect(faithful([], expected)).toBe(false);
  });

  test('an answer is a crash when it has no status, or an error without a JSON body naming it', () => {
    expect(crashOf({ statusCode: 401, body: '{"error":"SignatureMismatch","message":"signature mismatch"}' })).toBeUndefined();
    expect(crashOf({ statusCode: 500, body: 'Internal Server Error' })).toBe('500 with a body that is not JSON');
    expect(crashOf({ statusCode: 400, body: '{}' })).toBe('400 with a JSON body that names no error and message');
    expect(crashOf(undefined)).toBe('the handler returned undefined');
  });

  test('a signature the fuzzer makes is the vendor\'s: GitHub\'s sha256= HMAC of the body', () => {
    const req = signed('github');
    const header = req.draft.headers.find(([n]) => n === 'X-Hub-Signature-256')?.[1];
    expect(header).toBe(`sha256=${createHmac('sha256', 'fuzz-github-secret-0a1b2c3d').update(req.draft.body as Buffer).digest('hex')}`);
  });
});
