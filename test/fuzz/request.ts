/**
 * The fuzzer's model of a request on the wire (a Draft) and how it becomes the API Gateway REST
 * proxy event a handler receives: `*\/*` is a binary media type, so the body arrives base64
 * encoded; `headers` holds each header's last value and `multiValueHeaders` all of them.
 * Mutations edit the Draft; a few of them then make the event disagree with itself, as no real
 * API Gateway would, to see that the handler stays safe anyway.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';

/** The public host the deployment serves, as API Gateway reports it in requestContext.domainName. */
export const DOMAIN = 'hooks.example.com';
export const STAGE = 'prod';

export interface Draft {
  method: string;
  /** Header lines in the order sent: names as the sender spelled them. */
  headers: [string, string][];
  /** The bytes sent; null for an event with no body at all. */
  body: Buffer | null;
  /** False: the event carries the body as UTF-8 text with isBase64Encoded false. */
  base64: boolean;
  /** Noise API Gateway never adds, which node's base64 decoder skips: line breaks in the base64 text. */
  base64LineBreaks: boolean;
  query: [string, string][];
  /** requestContext.identity.clientCert, as API Gateway writes it for an mTLS custom domain. */
  clientCert?: Record<string, unknown>;
  /** After the event is built: `headers[name]` set to a value (or removed) whatever multiValueHeaders says. */
  headersOverride: [string, string | undefined][];
  /** After the event is built: `multiValueHeaders[name]` set (or removed) whatever headers says. */
  mvhOverride: [string, string[] | undefined][];
  dropHeaders: boolean;
  dropMultiValueHeaders: boolean;
}

export function newDraft(headers: [string, string][], body: Buffer): Draft {
  return {
    method: 'POST', headers, body, base64: true, base64LineBreaks: false, query: [],
    headersOverride: [], mvhOverride: [], dropHeaders: false, dropMultiValueHeaders: false,
  };
}

export function cloneDraft(d: Draft): Draft {
  return {
    ...d,
    headers: d.headers.map(([n, v]) => [n, v]),
    query: d.query.map(([n, v]) => [n, v]),
    headersOverride: [...d.headersOverride],
    mvhOverride: [...d.mvhOverride],
    clientCert: d.clientCert === undefined ? undefined : { ...d.clientCert },
  };
}

/** Index of the first header line with this name, compared case-insensitively; -1 when none. */
export function headerIndex(d: Draft, name: string): number {
  const lower = name.toLowerCase();
  return d.headers.findIndex(([n]) => n.toLowerCase() === lower);
}

export function headerValue(d: Draft, name: string): string | undefined {
  const i = headerIndex(d, name);
  return i < 0 ? undefined : d.headers[i][1];
}

/** Replaces the first line's value, or adds a line. */
export function setHeader(d: Draft, name: string, value: string): void {
  const i = headerIndex(d, name);
  if (i < 0) d.headers.push([name, value]);
  else d.headers[i][1] = value;
}

export function removeHeader(d: Draft, name: string): void {
  const lower = name.toLowerCase();
  d.headers = d.headers.filter(([n]) => n.toLowerCase() !== lower);
}

export interface EventRoute {
  /** The resource path, such as `/stripe`. */
  readonly path: string;
  readonly requestId: string;
  readonly requestTimeEpoch: number;
}

/** Sets an own property, as JSON.parse does: a header named `__proto__` is a header, not a prototype. */
function put<T>(target: Record<string, T>, name: string, value: T): void {
  Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
}

/** Adds `value` to the values under `name` (an own property, whatever the name). */
function append(target: Record<string, string[]>, name: string, value: string): void {
  put(target, name, [...(Object.prototype.hasOwnProperty.call(target, name) ? target[name] : []), value]);
}

/** The API Gateway REST proxy event for a draft. */
export function toEvent(d: Draft, route: EventRoute): APIGatewayProxyEvent {
  let headers: Record<string, string> = {};
  let multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of d.headers) {
    put(headers, name, value);
    append(multiValueHeaders, name, value);
  }
  for (const [name, value] of d.headersOverride) {
    if (value === undefined) delete headers[name];
    else put(headers, name, value);
  }
  for (const [name, values] of d.mvhOverride) {
    if (values === undefined) delete multiValueHeaders[name];
    else put(multiValueHeaders, name, values);
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [name, value] of d.query) {
    put(query, name, value);
    append(multiQuery, name, value);
  }
  let body: string | null = null;
  if (d.body !== null) {
    body = d.base64 ? d.body.toString('base64') : d.body.toString('utf8');
    if (d.base64 && d.base64LineBreaks) body = body.replace(/(.{60})/g, '$1\r\n');
  }
  if (d.dropHeaders) headers = null as unknown as Record<string, string>;
  if (d.dropMultiValueHeaders) multiValueHeaders = null as unknown as Record<string, string[]>;
  return {
    resource: route.path,
    path: route.path,
    httpMethod: d.method,
    headers,
    multiValueHeaders,
    queryStringParameters: d.query.length === 0 ? null : query,
    multiValueQueryStringParameters: d.query.length === 0 ? null : multiQuery,
    pathParameters: null,
    stageVariables: null,
    body,
    isBase64Encoded: d.base64,
    requestContext: {
      accountId: '111111111111',
      apiId: 'a1b2c3d4e5',
      authorizer: null,
      domainName: DOMAIN,
      domainPrefix: 'hooks',
      httpMethod: d.method,
      path: `/${STAGE}${route.path}`,
      protocol: 'HTTP/1.1',
      requestId: route.requestId,
      requestTimeEpoch: route.requestTimeEpoch,
      resourceId: 'r3s0uc',
      resourcePath: route.path,
      stage: STAGE,
      identity: {
        sourceIp: '203.0.113.7',
        userAgent: headerValue(d, 'user-agent') ?? null,
        ...(d.clientCert === undefined ? {} : { clientCert: d.clientCert }),
      },
    } as unknown as APIGatewayProxyEvent['requestContext'],
  };
}

/** The bytes a handler receives, decoded from the event exactly as API Gateway meant them. */
export function deliveredBody(event: APIGatewayProxyEvent): Buffer {
  if (event.body === null || event.body === undefined) return Buffer.alloc(0);
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
}

/** Lower-case header names to their values (trimmed of optional whitespace), in order. */
export type HeaderView = ReadonlyMap<string, readonly string[]>;

/**
 * The request's headers as API Gateway's REST proxy integration defines them: every value in
 * multiValueHeaders, names compared case-insensitively (so `X-A` and `x-a` pool their values),
 * and `headers` only for names that multiValueHeaders lacks. Values are trimmed, as HTTP allows
 * around a field value. The oracle reads the signed material from this view.
 */
export function headerView(event: APIGatewayProxyEvent): HeaderView {
  const view = new Map<string, string[]>();
  for (const [name, values] of Object.entries(event.multiValueHeaders ?? {})) {
    if (!Array.isArray(values)) continue;
    const list = view.get(name.toLowerCase()) ?? [];
    list.push(...values.map((v) => String(v).trim()));
    view.set(name.toLowerCase(), list);
  }
  const fromHeaders = new Map<string, string[]>();
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value === undefined || value === null) continue;
    const list = fromHeaders.get(name.toLowerCase()) ?? [];
    list.push(String(value).trim());
    fromHeaders.set(name.toLowerCase(), list);
  }
  for (const [name, values] of fromHeaders) if (!view.has(name)) view.set(name, values);
  return view;
}

/** A header's values in a view; a Standard Webhooks alias (svix-*) stands in when the name is absent. */
export function viewValues(view: HeaderView, name: string, aliases?: Readonly<Record<string, string>>): readonly string[] {
  const values = view.get(name);
  if (values !== undefined && values.length > 0) return values;
  const alias = aliases?.[name];
  return alias === undefined ? [] : view.get(alias) ?? [];
}
