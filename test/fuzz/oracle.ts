/**
 * The oracle: given what a signer signed and the request as delivered, what a 2xx answer means.
 *
 * A request's material is what its credential vouches for (see ./schemes): body bytes (Twilio's
 * form: the names and values run together in name order, so the pairs' order, their
 * percent-encoding and where a name ends and its value begins are not material; Twilio's JSON
 * bodies: the bytes, which bodySHA256 covers whatever the content type says), the signed timestamp, signed headers, Twilio's URL (the deployment's own:
 * requestContext.domainName and path, never Host), a bearer token, a JWT's signing input, the
 * mTLS identity API Gateway reports. The delivered material is read from the header view that
 * API Gateway's REST proxy integration defines: multiValueHeaders (names case-insensitive), with
 * `headers` only for names it lacks; values trimmed, as HTTP allows.
 *
 * A 2xx is
 * - a FORGERY when the signer's material is not what was delivered (a field differs or is
 *   missing), when the signer could not authorize it (another key, a timestamp outside the
 *   window, an expired or mis-addressed token, a Twilio URL of another webhook), or, for a scheme
 *   that signs the body, when the record written (the run started) carries another payload than
 *   the signed body parses to;
 * - a HEADER CONFLICT when the delivered material includes the signed value but also another one
 *   (`X-Slack-Request-Timestamp: t` and `x-slack-request-timestamp: t2`), or a header the scheme
 *   reads comes with different values: an ambiguous request, to be refused (400);
 * - harmless when the material is intact: a re-cased header name, whitespace HTTP allows around a
 *   value, a hex signature in upper case, Twilio pairs reordered, a Host that does not matter.
 *
 * Independently of the material, a 2xx is counted when the body has a duplicate JSON key (the
 * payload-integrity rule), when the method is not POST, and when the trigger answers an
 * Idempotency-Key reused with another body with the first body's run.
 */
import { isDeepStrictEqual } from 'node:util';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { duplicateKeyPointer } from './json';
import { deliveredBody, headerView, viewValues, type HeaderView } from './request';
import type { Scheme, Signed } from './schemes';

export interface Judgement {
  /** Why a 2xx would be a forgery. */
  readonly forged?: string;
  /** Why a 2xx would accept an ambiguous request. */
  readonly conflict?: string;
}

/** Compares the signed material with the delivered one, field by field. */
export function judge(scheme: Scheme, signed: Signed, event: APIGatewayProxyEvent): Judgement {
  const view = headerView(event);
  const delivered = scheme.read(event, view);
  let forged: string | undefined;
  let conflict: string | undefined;
  for (const [field, value] of Object.entries(signed.material)) {
    const values = delivered[field] ?? [];
    if (values.length === 0) forged ??= `${field} is missing`;
    else if (values.every((v) => v === value)) continue;
    else if (values.includes(value)) conflict ??= `${field} comes with the signed value and another`;
    else forged ??= `${field} differs from what was signed`;
  }
  if (!signed.valid) forged ??= signed.why ?? 'not authorized';
  for (const name of scheme.readHeaders) {
    const distinct = new Set(viewValues(view, name, scheme.headerAliases));
    if (distinct.size > 1) conflict ??= `${name} sent with ${distinct.size} different values`;
  }
  return { forged, conflict };
}

/** The delivered content type's media type, lower case; undefined when absent or ambiguous. */
export function mediaTypeOf(view: HeaderView): string | undefined {
  const values = [...new Set(viewValues(view, 'content-type'))];
  return values.length === 1 ? values[0].split(';')[0].trim().toLowerCase() : undefined;
}

const isJsonType = (type: string) => type === 'application/json' || /^application\/[a-z0-9!#$&^_.-]+\+json$/.test(type);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as text, when it is UTF-8 (a leading byte order mark dropped, as decoders do). */
function bodyText(event: APIGatewayProxyEvent): string | undefined {
  try {
    return utf8.decode(deliveredBody(event));
  } catch {
    return undefined;
  }
}

/** The repeated JSON member of a delivered JSON body, as a pointer; undefined when there is none. */
export function duplicateKeyOf(event: APIGatewayProxyEvent): string | undefined {
  const type = mediaTypeOf(headerView(event));
  if (type === undefined || !isJsonType(type)) return undefined;
  const text = bodyText(event);
  return text === undefined ? undefined : duplicateKeyPointer(text);
}

/** A form as one object, a repeated name as an array of its values; every name an own property. */
function formObject(pairs: Iterable<[string, string]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of pairs) {
    const existing = Object.prototype.hasOwnProperty.call(out, name) ? out[name] : undefined;
    const next = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
    Object.defineProperty(out, name, { value: next, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * The events a faithful handler writes for a delivered body: one per JSON object, one per element
 * of a JSON array (an element equal to an earlier one is the same event, written once), one for
 * a form. Undefined when the body's type says nothing certain.
 */
export function expectedEvents(event: APIGatewayProxyEvent): unknown[] | undefined {
  const type = mediaTypeOf(headerView(event));
  if (type === undefined) return undefined;
  const text = bodyText(event);
  if (text === undefined) return undefined;
  if (type === 'application/x-www-form-urlencoded') return [formObject(new URLSearchParams(text).entries())];
  if (!isJsonType(type)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return [value];
  return value.filter((event, i) => value.findIndex((other) => isDeepStrictEqual(other, event)) === i);
}

/** The JSON pointer of the first place two JSON values differ; undefined when they are equal. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | undefined {
  if (isDeepStrictEqual(a, b)) return undefined;
  const isContainer = (v: unknown) => typeof v === 'object' && v !== null;
  if (!isContainer(a) || !isContainer(b) || Array.isArray(a) !== Array.isArray(b)) return path || '/';
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const key of [...new Set([...Object.keys(x), ...Object.keys(y)])]) {
    const here = `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (!Object.prototype.hasOwnProperty.call(x, key) || !Object.prototype.hasOwnProperty.call(y, key)) return here;
    const inner = firstDifference(x[key], y[key], here);
    if (inner !== undefined) return inner;
  }
  return path || '/';
}

/** Whether the payloads written are exactly the expected events, in order. */
export function faithful(written: readonly unknown[], expected: readonly unknown[] | undefined): boolean {
  if (expected === undefined) return written.length > 0;
  return written.length === expected.length && written.every((w, i) => isDeepStrictEqual(w, expected[i]));
}

/** What makes an answer a crash rather than an answer: anything but a status and, for an error, a JSON body naming it. */
export function crashOf(response: unknown): string | undefined {
  if (typeof response !== 'object' || response === null) return `the handler returned ${typeof response}`;
  const { statusCode, body } = response as { statusCode?: unknown; body?: unknown };
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) return `statusCode ${String(statusCode)}`;
  if (typeof body !== 'string') return `${statusCode} with a body of type ${typeof body}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return `${statusCode} with a body that is not JSON`;
  }
  if (statusCode >= 400) {
    const e = parsed as { error?: unknown; message?: unknown };
    if (typeof parsed !== 'object' || parsed === null || typeof e.error !== 'string' || typeof e.message !== 'string') {
      return `${statusCode} with a JSON body that names no error and message`;
    }
  }
  return undefined;
}
