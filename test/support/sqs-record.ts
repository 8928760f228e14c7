import type { SQSRecord } from 'aws-lambda';
import { TEST_REGION } from './kinesalite';

/** One message of a FIFO queue as Lambda's SQS event source hands it over. */
export function fifoSqsRecord(message: {
  readonly messageId: string;
  readonly body: string;
  readonly groupId: string;
  readonly deduplicationId: string;
  readonly receiveCount: number;
  readonly sequenceNumber?: string;
}): SQSRecord {
  return {
    messageId: message.messageId,
    receiptHandle: `rh-${message.messageId}-${message.receiveCount}`,
    body: message.body,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: '1735689600000',
      SenderId: 'AROAEXAMPLE:ingest',
      ApproximateFirstReceiveTimestamp: '1735689600500',
      ...(message.sequenceNumber === undefined ? {} : { SequenceNumber: message.sequenceNumber }),
      MessageGroupId: message.groupId,
      MessageDeduplicationId: message.deduplicationId,
    },
    messageAttributes: {},
    md5OfBody: 'not-checked',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:111111111111:spill.fifo',
    awsRegion: TEST_REGION,
  };
}
