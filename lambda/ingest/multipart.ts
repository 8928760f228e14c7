import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import type { MultipartLimits } from './config';
import { MalformedPayloadError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../common/errors';
import { addFormField } from '../common/parse';

export type { MultipartLimits };

export interface MultipartFile {
  /** The form field name the file was sent under. */
  readonly fieldName: string;
  /** The declared file name without any directory part; undefined when the part declares none. */
  readonly filename: string | undefined;
  /** The declared media type, lower-case, without parameters; `text/plain` when none is declared (RFC 7578). */
  readonly contentType: string;
  /** The file's bytes, exactly as sent. */
  readonly bytes: Buffer;
  /** SHA-256 of `bytes`, lower-case hex. */
  readonly sha256: string;
}

export interface MultipartBody {
  /** Field name to value; a name sent more than once maps to its values in order. */
  readonly fields: { readonly [name: string]: string | string[] };
  /** The files, in the order they were sent. */
  readonly files: readonly MultipartFile[];
}

const MULTIPART = 'multipart/form-data';

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = new RegExp(`^\\s*(${TOKEN}/${TOKEN})\\s*`);
const PARAMETER = new RegExp(`^;\\s*(${TOKEN})\\s*=\\s*(${TOKEN}|"(?:[^"\\\\\\r\\n]|\\\\[^\\r\\n])*")\\s*`);
/** RFC 2046 section 5.1.1: 1 to 70 of these characters, the last one not a space. */
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

/** The boundary of a multipart/form-data Content-Type; 415 for another type, 400 when it is unusable. */
function boundaryOf(contentType: string): string {
  const media = MEDIA_TYPE.exec(contentType);
  if (media === null || media[1].toLowerCase() !== MULTIPART) {
    throw new UnsupportedMediaTypeError(`unsupported Content-Type; expected ${MULTIPART}`);
  }
  let rest = contentType.slice(media[0].length);
  let boundary: string | undefined;
  while (rest.length > 0) {
    const param = PARAMETER.exec(rest);
    if (param === null) throw new MalformedPayloadError(`${MULTIPART} Content-Type has malformed parameters`);
    rest = rest.slice(param[0].length);
    if (param[1].toLowerCase() !== 'boundary') continue;
    if (boundary !== undefined) throw new MalformedPayloadError(`${MULTIPART} Content-Type must have one boundary parameter`);
    const raw = param[2];
    boundary = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
  }
  if (boundary === undefined) throw new MalformedPayloadError(`${MULTIPART} Content-Type has no boundary parameter`);
  if (!BOUNDARY.test(boundary)) {
    throw new MalformedPayloadError(`${MULTIPART} boundary must be 1 to 70 characters allowed by RFC 2046`);
  }
  return boundary;
}

/**
 * How many parts the body delimits, found the way busboy finds them (the first `CRLF--boundary`
 * after a CRLF prepended to the body, up to the delimiter followed by `--`); undefined when the
 * body has no closing delimiter. Busboy skips, without a word, a part whose headers it cannot
 * read as `form-data` (no or a malformed Content-Disposition, padding after the boundary), so
 * the count of fields and files it reports is checked against this.
 */
function countParts(rawBody: Buffer, boundary: string): number | undefined {
  const delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  const body = Buffer.concat([Buffer.from('\r\n'), rawBody]);
  let parts = 0;
  for (let from = 0; ;) {
    const at = body.indexOf(delimiter, from);
    if (at < 0) return undefined;
    const after = at + delimiter.length;
    if (body[after] === 0x2d && body[after + 1] === 0x2d) return parts;
    parts += 1;
    from = after;
  }
}

const ACCEPTED_TRANSFER_ENCODINGS = new Set(['7bit', '8bit', 'binary']);

/** What busboy's own errors mean, in words that are safe to return. */
function describeBusboyError(error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  if (/^Unexpected end of (form|file)$/.test(message)) return `${MULTIPART} body ends before its closing boundary`;
  if (message === 'Malformed part header') return `${MULTIPART} body has a malformed part header`;
  return `${MULTIPART} body is malformed`;
}

function checkLimits(limits: MultipartLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`multipart limit ${name} must be a non-negative integer, got ${value}`);
  }
}

const tooManyParts = (limits: MultipartLimits) =>
  new PayloadTooLargeError(`${MULTIPART} body has more than ${limits.maxParts} parts (limit maxParts)`);
const tooManyFields = (limits: MultipartLimits) =>
  new PayloadTooLargeError(`${MULTIPART} body has more than ${limits.maxFields} fields (limit maxFields)`);
const tooManyFiles = (limits: MultipartLimits) =>
  new PayloadTooLargeError(`${MULTIPART} body has more than ${limits.maxFiles} files (limit maxFiles)`);
const fieldTooLarge = (limits: MultipartLimits, index: number) =>
  new PayloadTooLargeError(`${MULTIPART} part ${index} is a field value larger than ${limits.maxFieldBytes} bytes (limit maxFieldBytes)`);
const fileTooLarge = (limits: MultipartLimits, index: number) =>
  new PayloadTooLargeError(`${MULTIPART} part ${index} is a file larger than ${limits.maxFileBytes} bytes (limit maxFileBytes)`);
const filesTooLarge = (limits: MultipartLimits) =>
  new PayloadTooLargeError(`${MULTIPART} body has files larger than ${limits.maxTotalFileBytes} bytes in all (limit maxTotalFileBytes)`);

/**
 * Decoded text that was not valid UTF-8 carries U+FFFD where the bad bytes were. Busboy decodes
 * without a fatal flag and hides the part's declared charset, so this is the check that remains;
 * it also refuses text that contains U+FFFD itself.
 */
function isCleanText(text: string): boolean {
  return !text.includes('\uFFFD');
}

/** A file part as busboy streams it. */
interface PendingFile {
  readonly index: number;
  readonly fieldName: string;
  readonly filename: string | undefined;
  readonly contentType: string;
  chunks: Buffer[];
  size: number;
  done: boolean;
}

/** A busboy parser for one body whose boundary was checked; 400 when busboy cannot read the Content-Type. */
function createParser(boundary: string, limits: MultipartLimits): busboy.Busboy {
  try {
    return busboy({
      // The boundary is re-quoted from the checked value, so busboy and countParts split on the same bytes.
      headers: { 'content-type': `${MULTIPART}; boundary="${boundary}"` },
      limits: {
        // Busboy reports the parts limit on reaching it, and truncates a value or file on
        // reaching its size; one more than the inclusive limit makes both fire only past it.
        parts: limits.maxParts + 1,
        fields: limits.maxFields,
        fieldSize: limits.maxFieldBytes + 1,
        files: limits.maxFiles,
        fileSize: limits.maxFileBytes + 1,
      },
      defCharset: 'utf8',
      defParamCharset: 'utf8',
      preservePath: false,
    });
  } catch (cause) {
    throw new MalformedPayloadError(`${MULTIPART} Content-Type is malformed`, { cause });
  }
}

/**
 * What busboy reports of one body, checked as it comes. The first failure wins and drops the file
 * bytes read so far; busboy is still read to its end, so it can finish and report the rest.
 */
class FormCollector {
  private readonly fields: { [name: string]: string | string[] } = {};
  private readonly files: PendingFile[] = [];
  private failure: Error | undefined;
  private partIndex = 0;
  private fieldCount = 0;
  private totalFileBytes = 0;

  constructor(private readonly limits: MultipartLimits) {}

  /** Listens to every event of `parser`. */
  listen(parser: busboy.Busboy): void {
    const limits = this.limits;
    parser.on('field', (name, value: string | undefined, info) => this.onField(name, value, info));
    parser.on('file', (name, stream, info) => this.onFile(name, stream, info));
    parser.on('partsLimit', () => this.fail(tooManyParts(limits)));
    parser.on('fieldsLimit', () => this.fail(tooManyFields(limits)));
    parser.on('filesLimit', () => this.fail(tooManyFiles(limits)));
    parser.on('error', (cause: unknown) => this.fail(new MalformedPayloadError(describeBusboyError(cause), { cause })));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const file of this.files) file.chunks = [];
  }

  private partName(name: string | undefined, index: number): string | undefined {
    if (name === undefined || name === '') {
      this.fail(new MalformedPayloadError(`${MULTIPART} part ${index} has no name`));
      return undefined;
    }
    if (!isCleanText(name)) {
      this.fail(new MalformedPayloadError(`${MULTIPART} part ${index} has a name that is not valid UTF-8`));
      return undefined;
    }
    return name;
  }

  private checkEncoding(encoding: string, index: number): boolean {
    if (ACCEPTED_TRANSFER_ENCODINGS.has(encoding.toLowerCase())) return true;
    this.fail(new MalformedPayloadError(`${MULTIPART} part ${index} has an unsupported Content-Transfer-Encoding; send the bytes as they are`));
    return false;
  }

  private onField(rawName: string, value: string | undefined, info: busboy.FieldInfo): void {
    const { limits } = this;
    const index = this.partIndex++;
    this.fieldCount += 1;
    if (this.failure !== undefined) return;
    const name = this.partName(rawName, index);
    if (name === undefined || !this.checkEncoding(info.encoding, index)) return;
    if (info.nameTruncated) return this.fail(new PayloadTooLargeError(`${MULTIPART} part ${index} has a name that is too long`));
    if (info.valueTruncated) return this.fail(fieldTooLarge(limits, index));
    if (typeof value !== 'string') return this.fail(new MalformedPayloadError(`${MULTIPART} part ${index} declares a charset that is not supported; send UTF-8`));
    if (!isCleanText(value)) return this.fail(new MalformedPayloadError(`${MULTIPART} part ${index} is not valid UTF-8`));
    if (Buffer.byteLength(value, 'utf8') > limits.maxFieldBytes) return this.fail(fieldTooLarge(limits, index));
    if (this.fieldCount > limits.maxFields) return this.fail(tooManyFields(limits));
    addFormField(this.fields, name, value);
  }

  private onFile(rawName: string, stream: Readable & { truncated?: boolean }, info: busboy.FileInfo): void {
    const { limits } = this;
    const index = this.partIndex++;
    const file: PendingFile = { index, fieldName: rawName, filename: info.filename, contentType: info.mimeType.toLowerCase(), chunks: [], size: 0, done: false };
    this.files.push(file);
    // Keep reading (and dropping) after a failure, so busboy can finish and report the rest.
    stream.on('data', (chunk: Buffer) => {
      file.size += chunk.length;
      this.totalFileBytes += chunk.length;
      if (this.failure !== undefined) return;
      if (file.size > limits.maxFileBytes) return this.fail(fileTooLarge(limits, index));
      if (this.totalFileBytes > limits.maxTotalFileBytes) return this.fail(filesTooLarge(limits));
      file.chunks.push(chunk);
    });
    stream.on('limit', () => this.fail(fileTooLarge(limits, index)));
    stream.on('error', (cause: unknown) => this.fail(new MalformedPayloadError(describeBusboyError(cause), { cause })));
    stream.on('end', () => {
      if (stream.truncated) this.fail(fileTooLarge(limits, index));
      file.done = true;
    });
    if (this.failure !== undefined) return;
    if (this.partName(rawName, index) === undefined || !this.checkEncoding(info.encoding, index)) return;
    if (info.filename !== undefined && !isCleanText(info.filename)) {
      this.fail(new MalformedPayloadError(`${MULTIPART} part ${index} has a filename that is not valid UTF-8`));
    }
  }

  /** The body, once busboy closed: refused as a whole when anything failed, was skipped or was cut short. */
  result(delimitedParts: number): MultipartBody {
    const { limits, files } = this;
    if (this.failure === undefined && this.partIndex !== delimitedParts) {
      this.failure = new MalformedPayloadError(`${MULTIPART} body has a part without a readable form-data Content-Disposition header`);
    }
    if (this.failure === undefined && files.some((file) => !file.done)) {
      this.failure = new MalformedPayloadError(`${MULTIPART} body ends before its closing boundary`);
    }
    if (this.failure !== undefined) throw this.failure;
    // Checked again on the result, so that no path through busboy can get past a limit.
    if (this.partIndex > limits.maxParts) throw tooManyParts(limits);
    if (this.fieldCount > limits.maxFields) throw tooManyFields(limits);
    if (files.length > limits.maxFiles) throw tooManyFiles(limits);
    if (this.totalFileBytes > limits.maxTotalFileBytes) throw filesTooLarge(limits);
    return { fields: this.fields, files: files.map((file) => completeFile(file, limits)) };
  }
}

function completeFile(file: PendingFile, limits: MultipartLimits): MultipartFile {
  const bytes = Buffer.concat(file.chunks, file.size);
  if (bytes.length > limits.maxFileBytes) throw fileTooLarge(limits, file.index);
  return {
    fieldName: file.fieldName,
    filename: file.filename,
    contentType: file.contentType,
    bytes,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

/**
 * Reads a `multipart/form-data` body held in memory. Nothing is accepted half-parsed: a body
 * that busboy truncates, skips part of or cannot finish is refused as a whole, with a 413 naming
 * the limit that was exceeded or a 400 saying what is malformed. Messages never quote the body,
 * a field name or a filename; parts are named by their index, from 0.
 *
 * Field names, filenames and field values must be UTF-8. A field whose part declares another
 * charset busboy knows (ISO-8859-1, UTF-16LE) is transcoded by busboy; an unknown charset is a 400.
 */
export async function parseMultipart(rawBody: Buffer, contentType: string, limits: MultipartLimits): Promise<MultipartBody> {
  checkLimits(limits);
  const boundary = boundaryOf(contentType);
  if (rawBody.length === 0) throw new MalformedPayloadError('body is empty');
  const delimitedParts = countParts(rawBody, boundary);
  if (delimitedParts === undefined) throw new MalformedPayloadError(`${MULTIPART} body ends before its closing boundary`);
  if (delimitedParts > limits.maxParts) throw tooManyParts(limits);

  const parser = createParser(boundary, limits);
  const collector = new FormCollector(limits);
  collector.listen(parser);
  await new Promise<void>((resolve) => {
    parser.on('close', () => resolve());
    parser.end(rawBody);
  });
  return collector.result(delimitedParts);
}
