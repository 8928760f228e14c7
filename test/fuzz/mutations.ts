/**
 * The mutation operators. A case starts from a validly signed request; it may first be re-signed
 * by a variant (another key, a timestamp outside the window, a body with a duplicate key, a
 * signature made for another body or another Twilio URL), then one to three operators edit the
 * request as an attacker or a sloppy proxy could: body, signature and timestamp bytes, header
 * names and repeats, Host and X-Forwarded-*, multiValueHeaders against headers, content types,
 * methods, the event's own encoding. Operators never decide whether the result should be
 * accepted: the oracle (./oracle) does, from the material.
 */
import { duplicateKeyBody, OTHER_TWILIO_HOST, PROTOTYPE_NAMES, type GenContext, type Scheme, type SignedRequest, type Variant } from './schemes';
import { DOMAIN, headerIndex, headerValue, removeHeader, setHeader, type Draft } from './request';
import type { Json } from './json';
import type { Rng } from './rng';

export interface MutationState {
  req: SignedRequest;
  readonly scheme: Scheme;
  readonly rng: Rng;
  readonly ctx: GenContext;
}

export interface Mutation {
  readonly name: string;
  readonly weight: number;
  applies(scheme: Scheme): boolean;
  /** Edits the request; returns a short description, or undefined when it had nothing to edit. */
  apply(m: MutationState): string | undefined;
}

const always = () => true;
const withSignature = (s: Scheme) => s.credentialHeader !== undefined;
const withTimestamp = (s: Scheme) => s.timestamp !== undefined;

// ---------------------------------------------------------------------------------------------
// Generic re-signing variants

const resignVariants: Variant[] = [
  {
    name: 'sign.otherKey',
    weight: 3,
    apply: (s, ctx, rng) => s.sign(ctx, rng, { otherKey: true }),
  },
  {
    name: 'sign.staleTimestamp',
    weight: 2,
    apply: (s, ctx, rng) => (s.timestamp === undefined ? s.sign(ctx, rng)
      : s.sign(ctx, rng, { timestampOffset: -((s.toleranceSeconds ?? 0) + 30 + rng.int(rng.chance(0.5) ? 600 : 10_000_000)) })),
  },
  {
    name: 'sign.futureTimestamp',
    weight: 1,
    apply: (s, ctx, rng) => (s.timestamp === undefined ? s.sign(ctx, rng)
      : s.sign(ctx, rng, { timestampOffset: (s.toleranceSeconds ?? 0) + 30 + rng.int(100_000) })),
  },
  {
    // A sender that signs a body with a repeated member: the signature is good, the payload ambiguous.
    name: 'sign.duplicateKeys',
    weight: 3,
    apply: (s, ctx, rng, current) => {
      if (s.form === true || current.draft.body === null) return current;
      let value: Json;
      try {
        value = JSON.parse(current.draft.body.toString('utf8')) as Json;
      } catch {
        return current;
      }
      const body = duplicateKeyBody(rng, value);
      return body === undefined ? current : s.sign(ctx, rng, { body });
    },
  },
  {
    // A genuine signature, but made for another body than the one sent.
    name: 'sign.otherBody',
    weight: 2,
    apply: (s, ctx, rng, current) => {
      if (!s.bodySigned) return current;
      const other = s.sign(ctx, rng);
      other.draft.body = current.draft.body;
      return other;
    },
  },
];

export function variantsFor(scheme: Scheme): Variant[] {
  return [
    ...resignVariants.filter((v) => {
      if (v.name === 'sign.staleTimestamp' || v.name === 'sign.futureTimestamp') return withTimestamp(scheme);
      if (v.name === 'sign.otherKey') return scheme.name !== 'mtls';
      if (v.name === 'sign.otherBody') return scheme.bodySigned;
      if (v.name === 'sign.duplicateKeys') return scheme.form !== true;
      return true;
    }),
    ...scheme.variants,
  ];
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const HEX = '0123456789abcdef';
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=';
const INTERESTING_BYTES = [0x00, 0x0a, 0x0d, 0x20, 0x22, 0x2c, 0x3a, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x7f, 0x80, 0xc0, 0xff, 0xfe, 0xef];
const INTERESTING_INSERTS = [' ', '\n', '\t', ',', '"', '\\', '{}', '[]', '\u0000', '\ufeff', ',"amount_total":-5', '"a":1,', '\\u0000', '\u00e9', '😀', '\ud800'];

function flipChar(value: string, rng: Rng, alphabet: string): string {
  if (value.length === 0) return rng.pick([...alphabet]);
  const i = rng.int(value.length);
  let c = rng.pick([...alphabet]);
  if (c === value[i]) c = c === 'a' ? 'b' : 'a';
  return value.slice(0, i) + c + value.slice(i + 1);
}

function swapCase(value: string): string {
  return [...value].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');
}

function recase(name: string, rng: Rng): string {
  switch (rng.int(4)) {
    case 0: return name.toUpperCase();
    case 1: return name.toLowerCase();
    case 2: return [...name].map((c, i) => (i % 2 === 0 ? c.toUpperCase() : c.toLowerCase())).join('');
    default: {
      const lower = name.toLowerCase();
      return lower === name ? name.toUpperCase() : lower;
    }
  }
}

/** A value that differs from `value` in a way that matters for its header. */
function otherValue(value: string, rng: Rng): string {
  if (/^\d+$/.test(value)) return String(Number(value) + rng.between(1, 1000));
  return flipChar(value, rng, /^[0-9a-f]+$/.test(value) ? HEX : B64);
}

/** One of the headers the scheme reads, when the request has one; else any header. */
function readHeaderLine(m: MutationState, onlyRead = false): number {
  const read = m.scheme.readHeaders.map((h) => headerIndex(m.req.draft, h)).filter((i) => i >= 0);
  if (read.length > 0 && (onlyRead || m.rng.chance(0.8))) return m.rng.pick(read);
  if (onlyRead || m.req.draft.headers.length === 0) return -1;
  return m.rng.int(m.req.draft.headers.length);
}

function editCredential(m: MutationState, edit: (value: string) => string | undefined): string | undefined {
  const name = m.scheme.credentialHeader;
  if (name === undefined) return undefined;
  const i = headerIndex(m.req.draft, name);
  if (i < 0) return undefined;
  const edited = edit(m.req.draft.headers[i][1]);
  if (edited === undefined) return undefined;
  m.req.draft.headers[i][1] = edited;
  return 'ok';
}

function body(m: MutationState): Buffer {
  return m.req.draft.body ?? Buffer.alloc(0);
}

function setBody(m: MutationState, bytes: Buffer): void {
  m.req.draft.body = bytes;
}

function jsonBody(m: MutationState): Json | undefined {
  try {
    return JSON.parse(body(m).toString('utf8')) as Json;
  } catch {
    return undefined;
  }
}

/** Edits the signed timestamp's text, wherever the scheme keeps it. */
function editTimestamp(m: MutationState, edit: (ts: string) => string): string | undefined {
  const t = m.scheme.timestamp;
  if (t === undefined) return undefined;
  if (t.kind === 'header') {
    const i = headerIndex(m.req.draft, t.header);
    if (i < 0) return undefined;
    m.req.draft.headers[i][1] = edit(m.req.draft.headers[i][1]);
    return 'ok';
  }
  return editCredential(m, (value) => value.split(t.separator).map((item) => {
    const eq = item.indexOf('=');
    return eq > 0 && item.slice(0, eq).trim() === t.key ? `${item.slice(0, eq + 1)}${edit(item.slice(eq + 1))}` : item;
  }).join(t.separator));
}

const TIMESTAMP_EDITS: readonly [string, (t: string, rng: Rng) => string][] = [
  ['plus1', (t) => String(Number(t) + 1)],
  ['minus1', (t) => String(Number(t) - 1)],
  ['leadingZero', (t) => `0${t}`],
  ['milliseconds', (t) => `${t}000`],
  ['decimal', (t) => `${t}.0`],
  ['padded', (t) => ` ${t} `],
  ['plusSign', (t) => `+${t}`],
  ['negative', (t) => `-${t}`],
  ['exponent', (t) => `${Number(t) / 1e9}e9`],
  ['fullwidth', (t) => t.replace(/\d/g, (d) => String.fromCharCode(0xff10 + Number(d)))],
  ['hex', (t) => `0x${Number(t).toString(16)}`],
  ['huge', (_t, rng) => '9'.repeat(rng.between(13, 40))],
  ['empty', () => ''],
  ['digit', (t, rng) => flipChar(t, rng, '0123456789')],
  ['letters', (t) => `${t}abc`],
  ['zero', () => '0'],
];

const HOSTILE_HOSTS = [
  `${OTHER_TWILIO_HOST}/sms/inbound#`, 'a.com:99999', 'abc 123.example.com', 'a%zz.com', '[::1', '[::1]:443', '', ' ',
  `${DOMAIN}:443`, DOMAIN.toUpperCase(), `${DOMAIN}.`, `${DOMAIN}:80`, `user@${DOMAIN}`, `${DOMAIN}@evil.example`, `${DOMAIN}/../x`,
  '127.0.0.1', 'xn--', '\u0000', `${DOMAIN}\r\nX-Injected: 1`, 'a'.repeat(300), 'evil.example?', 'http://evil.example', `${DOMAIN}:0`,
  `${DOMAIN}:-1`, 'hooks.example.com:443:443', '%68ooks.example.com', 'hooks.exam\u0000ple.com', '日本.example', '*.example.com',
];

const CONTENT_TYPES = [
  'application/json', 'APPLICATION/JSON', 'application/json;charset=UTF-8', 'application/json; charset="utf-8"', 'application/json; charset=latin1',
  'application/vnd.api+json', 'application/cloudevents+json', 'text/plain', 'text/json', 'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-8', 'multipart/form-data; boundary=xyz', 'application/json, text/plain', '', ';',
  'application/', '*/*', 'application/json\u0000', 'application/json; charset=utf-16', 'application/json; boundary=x; charset=utf8',
];

const METHODS = ['GET', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'post', 'Post', 'TRACE', 'CONNECT', 'FOO', ''];

// ---------------------------------------------------------------------------------------------
// The operators

export const MUTATIONS: readonly Mutation[] = [
  // Body bytes.
  { name: 'body.flipBit', weight: 6, applies: always, apply: (m) => {
    const b = Buffer.from(body(m));
    if (b.length === 0) return undefined;
    const i = m.rng.int(b.length);
    b[i] ^= 1 << m.rng.int(8);
    setBody(m, b);
    return `byte ${i}`;
  } },
  { name: 'body.setByte', weight: 4, applies: always, apply: (m) => {
    const b = Buffer.from(body(m));
    if (b.length === 0) return undefined;
    const i = m.rng.int(b.length);
    b[i] = m.rng.pick(INTERESTING_BYTES);
    setBody(m, b);
    return `byte ${i}`;
  } },
  { name: 'body.insert', weight: 4, applies: always, apply: (m) => {
    const b = body(m);
    const i = m.rng.int(b.length + 1);
    const extra = m.rng.chance(0.5) ? Buffer.from(m.rng.pick(INTERESTING_INSERTS), 'utf8') : m.rng.bytes(m.rng.between(1, 4));
    setBody(m, Buffer.concat([b.subarray(0, i), extra, b.subarray(i)]));
    return `at ${i}`;
  } },
  { name: 'body.delete', weight: 3, applies: always, apply: (m) => {
    const b = body(m);
    if (b.length === 0) return undefined;
    const i = m.rng.int(b.length);
    const n = m.rng.between(1, Math.min(8, b.length - i));
    setBody(m, Buffer.concat([b.subarray(0, i), b.subarray(i + n)]));
    return `${n} at ${i}`;
  } },
  { name: 'body.truncate', weight: 3, applies: always, apply: (m) => {
    const b = body(m);
    const n = m.rng.int(b.length);
    setBody(m, b.subarray(0, n));
    return `to ${n}`;
  } },
  { name: 'body.append', weight: 2, applies: always, apply: (m) => {
    const b = body(m);
    const tail = m.rng.pick([b, Buffer.from('\n'), Buffer.from(' '), Buffer.from('\u0000'), Buffer.from('{}'), Buffer.from('garbage')]);
    setBody(m, Buffer.concat([b, tail]));
    return 'tail';
  } },
  { name: 'body.bom', weight: 1, applies: always, apply: (m) => {
    setBody(m, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body(m)]));
    return 'utf-8 bom';
  } },
  { name: 'body.duplicateKey', weight: 3, applies: (s) => s.form !== true, apply: (m) => {
    const value = jsonBody(m);
    if (value === undefined) return undefined;
    const bytes = duplicateKeyBody(m.rng, value);
    if (bytes === undefined) return undefined;
    setBody(m, bytes);
    return 'repeated member';
  } },
  { name: 'body.unicodeEscape', weight: 2, applies: (s) => s.form !== true, apply: (m) => {
    // The same JSON value, other bytes: `"a"` as `"\u0061"`.
    const text = body(m).toString('utf8');
    const positions = [...text.matchAll(/"([a-z])/g)].map((x) => x.index as number);
    if (positions.length === 0) return undefined;
    const i = m.rng.pick(positions) + 1;
    setBody(m, Buffer.from(`${text.slice(0, i)}\\u00${text.charCodeAt(i).toString(16)}${text.slice(i + 1)}`, 'utf8'));
    return `at ${i}`;
  } },
  { name: 'body.reserialize', weight: 2, applies: (s) => s.form !== true, apply: (m) => {
    // The same JSON value, written by another serializer: key order and spacing change.
    const value = jsonBody(m);
    if (value === undefined) return undefined;
    setBody(m, Buffer.from(m.rng.chance(0.5) ? JSON.stringify(value, null, 1) : JSON.stringify(value), 'utf8'));
    return 'rewritten';
  } },
  { name: 'body.tamperValue', weight: 3, applies: (s) => s.form !== true, apply: (m) => {
    const value = jsonBody(m);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    const key = m.rng.pick(Object.keys(value));
    if (key === undefined) return undefined;
    (value as Record<string, Json>)[key] = m.rng.pick<Json>([-5, 0, 'evil', null, true, { nested: 1 }, 1e308]);
    setBody(m, Buffer.from(JSON.stringify(value), 'utf8'));
    return key;
  } },
  { name: 'body.empty', weight: 1, applies: always, apply: (m) => {
    setBody(m, Buffer.alloc(0));
    return 'empty';
  } },
  { name: 'body.deep', weight: 1, applies: (s) => !s.bodySigned, apply: (m) => {
    const n = m.rng.pick([63, 64, 65, 500, 100_000]);
    setBody(m, Buffer.from(`{"a":${'['.repeat(n)}${']'.repeat(n)}}`, 'utf8'));
    return `${n} levels`;
  } },
  { name: 'body.form', weight: 1, applies: (s) => !s.bodySigned, apply: (m) => {
    // The same fields as a form, some named like what every object inherits.
    const pairs: [string, string][] = [['id', m.rng.word()], ['note', String(m.rng.word())]];
    if (m.rng.chance(0.5)) pairs.push([m.rng.pick(PROTOTYPE_NAMES), m.rng.word()]);
    if (m.rng.chance(0.3)) pairs.push(['note', m.rng.word()]);
    setBody(m, Buffer.from(new URLSearchParams(pairs).toString(), 'utf8'));
    setHeader(m.req.draft, 'Content-Type', 'application/x-www-form-urlencoded');
    return pairs.map(([n]) => n).join('&');
  } },
  { name: 'body.batch', weight: 1, applies: (s) => !s.bodySigned, apply: (m) => {
    const value = jsonBody(m);
    if (value === undefined) return undefined;
    setBody(m, Buffer.from(JSON.stringify(m.rng.pick<Json>([[value, value], [value, 1], [], [value]])), 'utf8'));
    return 'array';
  } },

  // Signature (or token) bytes and encodings.
  { name: 'sig.flipChar', weight: 6, applies: withSignature, apply: (m) => editCredential(m, (v) => flipChar(v, m.rng, m.scheme.encoding === 'hex' ? HEX : B64)) },
  { name: 'sig.swapCase', weight: 3, applies: withSignature, apply: (m) => editCredential(m, swapCase) },
  { name: 'sig.insertChar', weight: 2, applies: withSignature, apply: (m) => editCredential(m, (v) => {
    const i = m.rng.int(v.length + 1);
    return v.slice(0, i) + m.rng.pick(['a', '0', '=', ' ', ',', '/', '+', '-', '_', '.', '\t']) + v.slice(i);
  }) },
  { name: 'sig.deleteChar', weight: 2, applies: withSignature, apply: (m) => editCredential(m, (v) => {
    const i = m.rng.int(Math.max(1, v.length));
    return v.slice(0, i) + v.slice(i + 1);
  }) },
  { name: 'sig.truncate', weight: 2, applies: withSignature, apply: (m) => editCredential(m, (v) => v.slice(0, m.rng.int(v.length))) },
  { name: 'sig.append', weight: 2, applies: withSignature, apply: (m) => editCredential(m, (v) => v + m.rng.pick(['a', '00', '==', 'AA==', ' ', ',', ';', v])) },
  { name: 'sig.whitespace', weight: 2, applies: withSignature, apply: (m) => editCredential(m, (v) => m.rng.pick([` ${v}`, `${v} `, `\t${v}\t`, v.replace(/,/g, ', '), v.replace(/=/, ' = ')])) },
  { name: 'sig.padding', weight: 2, applies: withSignature, apply: (m) => editCredential(m, (v) => (v.endsWith('=') ? v.replace(/=+$/, '') : `${v}=`)) },
  { name: 'sig.urlsafe', weight: 1, applies: withSignature, apply: (m) => editCredential(m, (v) => v.replace(/\+/g, '-').replace(/\//g, '_')) },
  { name: 'sig.empty', weight: 1, applies: withSignature, apply: (m) => editCredential(m, () => m.rng.pick(['', ' ', '=', 'v1=', 't=,v1='])) },
  { name: 'sig.remove', weight: 1, applies: withSignature, apply: (m) => {
    removeHeader(m.req.draft, m.scheme.credentialHeader as string);
    return 'removed';
  } },
  { name: 'sig.extraEntry', weight: 3, applies: withSignature, apply: (m) => editCredential(m, (v) => {
    const f = m.scheme.signatureFormat;
    const junk = m.scheme.encoding === 'hex' ? m.rng.hex(32) : m.rng.bytes(32).toString('base64');
    if (f?.kind === 'keyValueList') return m.rng.chance(0.5) ? `${v}${f.separator}${f.signatureKey}=${junk}` : `${f.signatureKey}=${junk}${f.separator}${v}`;
    if (f?.kind === 'versionedList') return m.rng.chance(0.5) ? `${v}${f.entrySeparator}${f.version}${f.versionSeparator}${junk}` : `${f.version}${f.versionSeparator}${junk}${f.entrySeparator}${v}`;
    return m.rng.chance(0.5) ? `${v},${junk}` : `${v} ${v}`;
  }) },
  { name: 'sig.prefix', weight: 2, applies: withSignature, apply: (m) => editCredential(m, (v) => {
    const prefix = /^[A-Za-z0-9]+[=,]/.exec(v)?.[0] ?? '';
    const rest = v.slice(prefix.length);
    return m.rng.pick([rest, prefix.toUpperCase() + rest, `sha1=${rest}`, `v0=${rest}`, `v1a,${rest}`, `v2,${rest}`, prefix + prefix + rest, `Bearer ${v}`]);
  }) },

  // The signed timestamp's bytes, and its repeats.
  { name: 'ts.edit', weight: 6, applies: withTimestamp, apply: (m) => {
    const [label, edit] = m.rng.pick(TIMESTAMP_EDITS);
    return editTimestamp(m, (t) => edit(t, m.rng)) === undefined ? undefined : label;
  } },
  { name: 'ts.remove', weight: 1, applies: withTimestamp, apply: (m) => {
    const t = m.scheme.timestamp;
    if (t?.kind === 'header') removeHeader(m.req.draft, t.header);
    else if (t?.kind === 'keyValue') return editCredential(m, (v) => v.split(t.separator).filter((i) => !i.trim().startsWith(`${t.key}=`)).join(t.separator));
    return 'removed';
  } },
  { name: 'ts.repeat', weight: 2, applies: withTimestamp, apply: (m) => {
    const t = m.scheme.timestamp;
    const signed = m.req.signed.material.timestamp ?? '0';
    const other = m.rng.chance(0.3) ? signed : String(Number(signed) + m.rng.between(-5000, 5000));
    if (t?.kind === 'header') {
      const line: [string, string] = [m.rng.chance(0.5) ? t.header : t.header.toUpperCase(), other];
      if (m.rng.chance(0.5)) m.req.draft.headers.push(line);
      else m.req.draft.headers.unshift(line);
      return 'second header';
    }
    if (t?.kind === 'keyValue') return editCredential(m, (v) => (m.rng.chance(0.5) ? `${v}${t.separator}${t.key}=${other}` : `${t.key}=${other}${t.separator}${v}`));
    return undefined;
  } },

  // Header names, repeats, and the two header maps of the event.
  { name: 'hdr.recase', weight: 4, applies: always, apply: (m) => {
    if (m.req.draft.headers.length === 0) return undefined;
    const i = readHeaderLine(m);
    m.req.draft.headers[i][0] = recase(m.req.draft.headers[i][0], m.rng);
    return m.req.draft.headers[i][0];
  } },
  { name: 'hdr.repeat', weight: 3, applies: always, apply: (m) => {
    const i = readHeaderLine(m);
    if (i < 0) return undefined;
    const [name, value] = m.req.draft.headers[i];
    m.req.draft.headers.push([name, m.rng.chance(0.4) ? value : otherValue(value, m.rng)]);
    return name;
  } },
  { name: 'hdr.recasedRepeat', weight: 4, applies: (s) => s.readHeaders.length > 0, apply: (m) => {
    // `X-A: good` and `x-a: other`: two names in multiValueHeaders that HTTP says are one.
    const i = readHeaderLine(m, true);
    if (i < 0) return undefined;
    const [name, value] = m.req.draft.headers[i];
    let other = recase(name, m.rng);
    if (other === name) other = name.toUpperCase() === name ? name.toLowerCase() : name.toUpperCase();
    const line: [string, string] = [other, m.rng.chance(0.15) ? value : otherValue(value, m.rng)];
    m.req.draft.headers.splice(m.rng.chance(0.5) ? i : i + 1, 0, line);
    return `${name}/${other}`;
  } },
  { name: 'hdr.disagree', weight: 4, applies: always, apply: (m) => {
    // headers and multiValueHeaders say different things, as no real API Gateway event does.
    const i = readHeaderLine(m);
    if (i < 0) return undefined;
    const [name, value] = m.req.draft.headers[i];
    switch (m.rng.int(4)) {
      case 0: m.req.draft.headersOverride.push([name, otherValue(value, m.rng)]); return `headers.${name} differs`;
      case 1: m.req.draft.mvhOverride.push([name, undefined]); return `multiValueHeaders lacks ${name}`;
      case 2: m.req.draft.headersOverride.push([name, undefined]); return `headers lacks ${name}`;
      default: m.req.draft.mvhOverride.push([name, m.rng.chance(0.5) ? [value, otherValue(value, m.rng)] : [otherValue(value, m.rng), value]]); return `multiValueHeaders.${name} has two`;
    }
  } },
  { name: 'hdr.dropMap', weight: 1, applies: always, apply: (m) => {
    if (m.rng.chance(0.5)) m.req.draft.dropHeaders = true;
    else m.req.draft.dropMultiValueHeaders = true;
    return m.req.draft.dropHeaders ? 'headers null' : 'multiValueHeaders null';
  } },
  { name: 'hdr.drop', weight: 1, applies: always, apply: (m) => {
    if (m.req.draft.headers.length === 0) return undefined;
    const i = m.rng.int(m.req.draft.headers.length);
    const [name] = m.req.draft.headers.splice(i, 1)[0];
    return name;
  } },
  { name: 'hdr.oversize', weight: 1, applies: always, apply: (m) => {
    const size = m.rng.pick([8 * 1024, 16 * 1024, 64 * 1024, 256 * 1024]);
    if (m.rng.chance(0.5)) m.req.draft.headers.push(['X-Padding', 'a'.repeat(size)]);
    else {
      const i = readHeaderLine(m);
      if (i < 0) return undefined;
      m.req.draft.headers[i][1] += ' '.repeat(size);
    }
    return `${size} bytes`;
  } },
  { name: 'hdr.junk', weight: 1, applies: always, apply: (m) => {
    const name = m.rng.pick(['', ' ', 'X-Evil\r\nInjected', 'Content-Type ', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'x-correlation-id ', '日本']);
    m.req.draft.headers.push([name, m.rng.pick(['x', '', '\u0000', '{"a":1}', '__proto__'])]);
    return JSON.stringify(name);
  } },

  // Host and the forwarding headers.
  { name: 'host.hostile', weight: 5, applies: always, apply: (m) => {
    const host = m.rng.pick(HOSTILE_HOSTS);
    if (m.rng.chance(0.1)) removeHeader(m.req.draft, 'host');
    else setHeader(m.req.draft, 'Host', host);
    if (m.rng.chance(0.4)) {
      setHeader(m.req.draft, 'X-Forwarded-Host', m.rng.pick([OTHER_TWILIO_HOST, 'evil.example', host]));
      setHeader(m.req.draft, 'X-Forwarded-Proto', m.rng.pick(['http', 'https', 'javascript', '']));
      setHeader(m.req.draft, 'X-Forwarded-Port', m.rng.pick(['80', '99999', '-1', 'abc']));
    }
    return JSON.stringify(host);
  } },
  { name: 'host.forwarded', weight: 1, applies: always, apply: (m) => {
    setHeader(m.req.draft, m.rng.pick(['X-Forwarded-Host', 'Forwarded', 'X-Original-Host', 'X-Forwarded-Server']), m.rng.pick([OTHER_TWILIO_HOST, `host=${OTHER_TWILIO_HOST};proto=http`, 'a.com:99999']));
    return 'forwarded';
  } },

  // Content types, methods, the event's own encoding.
  { name: 'ct.variant', weight: 4, applies: always, apply: (m) => {
    if (m.rng.chance(0.1)) {
      removeHeader(m.req.draft, 'content-type');
      return 'removed';
    }
    const ct = m.rng.pick(CONTENT_TYPES);
    setHeader(m.req.draft, 'Content-Type', ct);
    return JSON.stringify(ct);
  } },
  { name: 'method', weight: 2, applies: always, apply: (m) => {
    m.req.draft.method = m.rng.pick(METHODS);
    return m.req.draft.method;
  } },
  { name: 'event.text', weight: 1, applies: always, apply: (m) => {
    m.req.draft.base64 = false;
    return 'isBase64Encoded false';
  } },
  { name: 'event.base64LineBreaks', weight: 1, applies: always, apply: (m) => {
    m.req.draft.base64LineBreaks = true;
    return 'line breaks';
  } },
  { name: 'event.nullBody', weight: 1, applies: always, apply: (m) => {
    m.req.draft.body = null;
    return 'null';
  } },

  // Twilio: the URL's query, the form's encoding.
  { name: 'twilio.query', weight: 3, applies: (s) => s.name.startsWith('twilio'), apply: (m) => {
    const q = m.req.draft.query;
    switch (m.rng.int(4)) {
      case 0: q.push([m.rng.pick(['bodySHA256', 'tenant', 'x']), m.rng.word()]); return 'added';
      case 1: if (q.length === 0) return undefined; q.splice(m.rng.int(q.length), 1); return 'dropped';
      case 2: if (q.length === 0) return undefined; q[0][1] = q[0][1].toUpperCase(); return 'upper-cased';
      default: if (q.length === 0) return undefined; q[0][1] = `${q[0][1]} `; return 'space';
    }
  } },
  { name: 'twilio.port', weight: 1, applies: (s) => s.name.startsWith('twilio'), apply: (m) => {
    setHeader(m.req.draft, 'Host', `${DOMAIN}:443`);
    return ':443';
  } },
  { name: 'form.edit', weight: 5, applies: (s) => s.form === true, apply: (m) => {
    const pairs = [...new URLSearchParams(body(m).toString('utf8')).entries()];
    const text = body(m).toString('utf8');
    switch (m.rng.int(7)) {
      case 0: { // the same pairs in another order: Twilio signs them sorted
        const shuffled = [...pairs].sort(() => m.rng.next() - 0.5);
        setBody(m, Buffer.from(new URLSearchParams(shuffled).toString(), 'utf8'));
        return 'reordered';
      }
      case 1: { // a character percent-encoded: the same pairs
        const i = text.search(/[A-Za-z]/);
        if (i < 0) return undefined;
        setBody(m, Buffer.from(`${text.slice(0, i)}%${text.charCodeAt(i).toString(16).toUpperCase()}${text.slice(i + 1)}`, 'utf8'));
        return 'percent-encoded';
      }
      case 2: setBody(m, Buffer.from(text.replace(/\+/g, '%20'), 'utf8')); return '+ as %20';
      case 3: setBody(m, Buffer.from(`${text}&${m.rng.pick(['Body', 'From', 'Extra'])}=${m.rng.word()}`, 'utf8')); return 'pair added';
      case 4: setBody(m, Buffer.from(new URLSearchParams(pairs.slice(1)).toString(), 'utf8')); return 'pair dropped';
      case 5: setBody(m, Buffer.from(text.replace(/From=[^&]*/, 'From=%2B15559999999'), 'utf8')); return 'From changed';
      default: setBody(m, Buffer.from(`${text}&${text.split('&')[0]}`, 'utf8')); return 'pair repeated';
    }
  } },

  // Standard Webhooks: the svix-* spelling of the headers.
  { name: 'standard.svixHeaders', weight: 2, applies: (s) => s.headerAliases !== undefined, apply: (m) => {
    const both = m.rng.chance(0.3);
    for (const [canonical, alias] of Object.entries(m.scheme.headerAliases ?? {})) {
      const value = headerValue(m.req.draft, canonical);
      if (value === undefined) continue;
      if (both) m.req.draft.headers.push([alias, m.rng.chance(0.5) ? value : otherValue(value, m.rng)]);
      else m.req.draft.headers = m.req.draft.headers.map(([n, v]) => [n.toLowerCase() === canonical ? alias : n, v]);
    }
    return both ? 'both spellings' : 'svix-*';
  } },

  // Bearer and JWT: the scheme word and the token's parts.
  { name: 'bearer.scheme', weight: 3, applies: (s) => s.credentialHeader === 'authorization', apply: (m) => editCredential(m, (v) => {
    const token = v.replace(/^\S+\s+/, '');
    return `${m.rng.pick(['bearer', 'BEARER', 'Bearer ', 'Bearer\t', 'Token', 'Basic', '', 'Bearer:', 'Bearer Bearer', 'Bearer,'])} ${token}`;
  }) },
  { name: 'jwt.parts', weight: 5, applies: (s) => s.name === 'jwt', apply: (m) => editCredential(m, (v) => {
    const [scheme, token] = v.split(' ');
    const [header, payload, signature] = (token ?? '').split('.');
    const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
    const encode = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    let edited: string;
    try {
      switch (m.rng.int(6)) {
        case 0: edited = `${header}.${encode({ ...decode(payload), tenant: 'evil' })}.${signature}`; break;
        case 1: edited = `${header}.${encode({ ...decode(payload), exp: Math.floor(Date.now() / 1000) + 999_999 })}.${signature}`; break;
        case 2: edited = `${encode({ ...decode(header), alg: m.rng.pick(['none', 'HS256', 'RS256', 'ES256', 'EdDSA']) })}.${payload}.${signature}`; break;
        case 3: edited = `${header}.${payload}.`; break;
        case 4: edited = `${header}.${payload}`; break;
        default: edited = `${header}.${payload}.${signature}.${signature}`; break;
      }
    } catch {
      return undefined;
    }
    return `${scheme} ${edited}`;
  }) },

  // mTLS: the identity API Gateway reports, and headers that merely claim one.
  { name: 'mtls.identity', weight: 8, applies: (s) => s.name === 'mtls', apply: (m) => {
    const cert = m.req.draft.clientCert;
    if (cert === undefined) return undefined;
    switch (m.rng.int(8)) {
      case 0: cert.serialNumber = m.rng.pick(['A10BFF', '0xa10bff', '00:00:a1:0b:ff', 'a1-0b-ff', ' a1:0b:ff ']); return 'serial respelled';
      case 1: cert.serialNumber = m.rng.pick(['a1:0b:fe', 'de:ad:be:ef', 'a1:0b:ff:00', '', 'zz', '0']); return 'other serial';
      case 2: cert.subjectDN = flipChar(String(cert.subjectDN), m.rng, 'abcdefgh=,'); return 'subject edited';
      case 3: cert.subjectDN = m.rng.pick(['cn=orders.internal,o=Example Corp,c=US', 'CN=orders.internal, O=Example Corp, C=US', 'CN=orders.internal,O=Example Corp,C=US ', '']); return 'subject respelled';
      case 4: m.req.draft.clientCert = undefined; return 'no certificate';
      case 5:
        m.req.draft.clientCert = undefined;
        m.req.draft.headers.push(['X-Amzn-Mtls-Clientcert-Subject', String(cert.subjectDN)], ['X-Client-Cert-Serial', 'a1:0b:ff'], ['X-SSL-Client-S-DN', String(cert.subjectDN)]);
        return 'identity claimed in headers';
      case 6: cert.serialNumber = m.rng.pick<unknown>([0xa10bff, null, ['a10bff'], { value: 'a10bff' }]) as string; return 'serial of another type';
      default: cert.subjectDN = m.rng.pick<unknown>([null, 42, ['CN=orders.internal,O=Example Corp,C=US']]) as string; return 'subject of another type';
    }
  } },
];

/** Every operator that applies to a scheme. */
export function mutationsFor(scheme: Scheme): Mutation[] {
  return MUTATIONS.filter((mutation) => mutation.applies(scheme));
}

export type { Draft };
