import { createHash } from 'node:crypto';
import { PutObjectCommand, type PutObjectCommandInput, type S3Client } from '@aws-sdk/client-s3';
import { DependencyUnavailableError } from '../common/errors';

/** Where a payload too large for a stream record was put; the record carries this instead. */
export interface PayloadRef {
  readonly bucket: string;
  readonly key: string;
  /** Bytes. */
  readonly size: number;
  /** SHA-256 of the bytes, lower-case hex. S3 verified it on upload (`ChecksumSHA256`). */
  readonly sha256: string;
  /** The object's Content-Type. */
  readonly contentType: string;
}

export interface ClaimCheckOptions {
  readonly bucket: string;
  /** Put before every key, verbatim: empty, or ending in `/` (for example `payloads/`). */
  readonly prefix: string;
  /**
   * Encrypt with this KMS key (SSE-KMS).
   * @default - SSE-S3 (`AES256`)
   */
  readonly kmsKeyId?: string;
}

export interface ClaimCheckMeta {
  /** The source name from the configuration. */
  readonly source: string;
  /** The envelope's event id. */
  readonly eventId: string;
  readonly contentType: string;
  /**
   * SHA-256 of the bytes as computed when they were read (lower-case hex). S3 then checks that
   * the bytes it stores are those bytes.
   * @default - computed here
   */
  readonly sha256?: string;
  /** Which payload of the event, when it has several (the files of a multipart form). */
  readonly index?: number;
}

const DEPENDENCY = 'the payload bucket';
/** Longest encoded id kept readable; a longer one is replaced by its hash, keeping keys far below 1024 bytes. */
const MAX_SEGMENT_LENGTH = 200;
const MAX_PREFIX_BYTES = 512;
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const HEX_SHA256 = /^[0-9a-f]{64}$/i;
/** type/subtype and parameters, visible ASCII only: anything else would not survive as a header. */
const SAFE_CONTENT_TYPE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:\s*;[\x20-\x7e]*)?$/;

/**
 * Encodes one id as a single S3 key segment that is safe everywhere keys travel (URLs, the
 * console, `aws s3 sync` to a file system):
 * - ASCII letters, digits, `_` and `-` stay as they are, and so does `.` except as the first
 *   character, so a segment is never `.` or `..`;
 * - every other character becomes `!XX` per UTF-8 byte (upper-case hex), and a lone UTF-16
 *   surrogate, which has no UTF-8 form, becomes `!uXXXX`;
 * - a result longer than 200 characters becomes `!h` and the SHA-256 of the encoded id.
 *
 * The encoding is injective: different ids never share a segment (`!` itself is encoded, and
 * the three escape forms start differently).
 */
export function encodeKeySegment(id: string): string {
  if (id === '') throw new Error('a key segment must not be empty');
  let encoded = '';
  for (const char of id) {
    if (/^[A-Za-z0-9_-]$/.test(char) || (char === '.' && encoded !== '')) {
      encoded += char;
    } else if (LONE_SURROGATE.test(char)) {
      encoded += `!u${char.charCodeAt(0).toString(16).toUpperCase()}`;
    } else {
      for (const byte of Buffer.from(char, 'utf8')) encoded += `!${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  if (encoded.length <= MAX_SEGMENT_LENGTH) return encoded;
  return `!h${createHash('sha256').update(encoded).digest('hex')}`;
}

/**
 * The object key for one payload of one event: `<prefix><source>/<eventId>/<index | "payload">`,
 * the source and event id encoded by `encodeKeySegment`. It depends on nothing but these, so a
 * redelivered event overwrites its own object instead of adding one. There is deliberately no
 * date in it: a date taken at receipt would give a retry that crosses midnight a second key.
 */
export function claimCheckKey(prefix: string, source: string, eventId: string, index?: number): string {
  if (index !== undefined && !(Number.isSafeInteger(index) && index >= 0)) {
    throw new Error(`a payload index must be a non-negative integer, got ${index}`);
  }
  return `${prefix}${encodeKeySegment(source)}/${encodeKeySegment(eventId)}/${index ?? 'payload'}`;
}

/**
 * Puts payloads too large for a stream record in S3 and returns the reference that the record
 * carries instead (the claim check). Every put sends the SHA-256 of the bytes
 * (`ChecksumSHA256`), so S3 refuses bytes that differ from those that were read, and asks for
 * server-side encryption: SSE-KMS with the configured key, or else SSE-S3.
 */
export class ClaimCheckStore {
  constructor(private readonly client: S3Client, private readonly options: ClaimCheckOptions) {
    if (options.bucket === '') throw new Error('ClaimCheckStore: bucket must not be empty');
    if (options.prefix !== '' && !options.prefix.endsWith('/')) {
      throw new Error(`ClaimCheckStore: prefix must be empty or end with '/', got '${options.prefix}'`);
    }
    if (options.prefix.startsWith('/') || Buffer.byteLength(options.prefix, 'utf8') > MAX_PREFIX_BYTES) {
      throw new Error(`ClaimCheckStore: prefix must not start with '/' and must be at most ${MAX_PREFIX_BYTES} bytes`);
    }
  }

  /** Resolves once S3 has stored the bytes; a 503 (DependencyUnavailableError) when it has not. */
  async put(bytes: Buffer, meta: ClaimCheckMeta): Promise<PayloadRef> {
    if (meta.sha256 !== undefined && !HEX_SHA256.test(meta.sha256)) {
      throw new Error('ClaimCheckStore: sha256 must be 64 hex digits');
    }
    const sha256 = meta.sha256?.toLowerCase() ?? createHash('sha256').update(bytes).digest('hex');
    const checksum = Buffer.from(sha256, 'hex').toString('base64');
    const contentType = SAFE_CONTENT_TYPE.test(meta.contentType) && meta.contentType.length <= 256
      ? meta.contentType
      : 'application/octet-stream';
    const key = claimCheckKey(this.options.prefix, meta.source, meta.eventId, meta.index);
    const input: PutObjectCommandInput = {
      Bucket: this.options.bucket,
      Key: key,
      Body: bytes,
      ContentLength: bytes.length,
      ContentType: contentType,
      ChecksumSHA256: checksum,
      ...(this.options.kmsKeyId === undefined
        ? { ServerSideEncryption: 'AES256' }
        : { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: this.options.kmsKeyId }),
    };
    let echoed: string | undefined;
    try {
      ({ ChecksumSHA256: echoed } = await this.client.send(new PutObjectCommand(input)));
    } catch (cause) {
      throw new DependencyUnavailableError(DEPENDENCY, { cause });
    }
    // S3 echoes the checksum it verified; an answer for other bytes means the put cannot be trusted.
    if (echoed !== undefined && echoed !== checksum) {
      throw new DependencyUnavailableError(DEPENDENCY, { cause: new Error('S3 answered with a different SHA-256 checksum') });
    }
    return { bucket: this.options.bucket, key, size: bytes.length, sha256, contentType };
  }
}
