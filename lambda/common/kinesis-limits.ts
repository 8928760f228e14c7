// The limits of Kinesis Data Streams that the writer, the envelope and the constructs respect.

/** Kinesis limits that the writer and the constructs both respect. */
export const KINESIS_LIMITS = {
  /** Records in one PutRecords call. */
  maxRecordsPerCall: 500,
  /** Bytes of data plus partition keys in one PutRecords call (5 MiB). */
  maxBytesPerCall: 5 * 1024 * 1024,
  /** Bytes of data plus partition key in one record (1 MiB). */
  maxBytesPerRecord: 1024 * 1024,
  /** Unicode characters in a partition key. */
  maxPartitionKeyLength: 256,
} as const;
