// The spilled message format: the contract between the ingest function, which spills records to
// the FIFO queue, and the drain, which writes them into their streams.

/** The `v` of every spilled message body. The drain refuses any other. */
export const SPILL_MESSAGE_VERSION = 1;

/** A spilled message's body, decoded. */
export interface SpilledRecord {
  readonly streamName: string;
  readonly partitionKey: string;
  readonly data: Buffer;
}

/** The JSON body of a spilled message. */
interface SpillMessageBody {
  readonly v: typeof SPILL_MESSAGE_VERSION;
  readonly streamName: string;
  readonly partitionKey: string;
  /** The record's bytes, base64. */
  readonly data: string;
}

/** The body of a spilled message: `{"v":1,"streamName":…,"partitionKey":…,"data":"<base64>"}`. */
export function encodeSpillMessage(record: { readonly streamName: string; readonly partitionKey: string; readonly data: Uint8Array }): string {
  const body: SpillMessageBody = {
    v: SPILL_MESSAGE_VERSION,
    streamName: record.streamName,
    partitionKey: record.partitionKey,
    data: Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength).toString('base64'),
  };
  return JSON.stringify(body);
}

/** Why a message body is not a spilled record. Never quotes the body. */
export type SpillMessageProblem = 'notJson' | 'notObject' | 'version' | 'streamName' | 'partitionKey' | 'data';

/** A message body that is not a spilled record: a poison message. Its message never quotes the body. */
export class SpillMessageError extends Error {
  constructor(readonly problem: SpillMessageProblem) {
    super(`not a spilled record: ${problem}`);
    this.name = 'SpillMessageError';
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Reads a spilled message's body. Throws SpillMessageError. */
export function decodeSpillMessage(body: string): SpilledRecord {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    // V8's message quotes the body: never keep it.
    throw new SpillMessageError('notJson');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new SpillMessageError('notObject');
  const { v, streamName, partitionKey, data } = doc as Record<string, unknown>;
  if (v !== SPILL_MESSAGE_VERSION) throw new SpillMessageError('version');
  if (typeof streamName !== 'string' || streamName === '') throw new SpillMessageError('streamName');
  // Kinesis partition keys are 1 to 256 Unicode characters.
  if (typeof partitionKey !== 'string' || partitionKey === '' || [...partitionKey].length > 256) throw new SpillMessageError('partitionKey');
  if (typeof data !== 'string' || !BASE64.test(data)) throw new SpillMessageError('data');
  return { streamName, partitionKey, data: Buffer.from(data, 'base64') };
}
