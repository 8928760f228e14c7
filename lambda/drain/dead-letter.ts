import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';

/**
 * Sends poison messages to the FIFO dead-letter queue, explicitly, so that the drain can
 * acknowledge them and the rest of their message group goes on in order. The body goes as it came,
 * so that a redrive sends it back unchanged; the reason goes in message attributes.
 */
export class DeadLetterSender {
  constructor(private readonly client: Pick<SQSClient, 'send'>, private readonly queueUrl: string) {}

  /**
   * Resolves once the dead-letter queue holds the message. A message sent again (the drain
   * failed after sending it) has the same deduplication id, so the queue keeps one within 5
   * minutes. Rejects when SQS does not take it, for instance when the body and the attributes
   * together pass the queue's 1 MiB.
   *
   * @param reason why the message can never be written, such as `notJson` or `unknownStream`
   */
  async send(message: SQSRecord, reason: string): Promise<void> {
    await this.client.send(new SendMessageCommand({
      QueueUrl: this.queueUrl,
      MessageBody: message.body,
      // The dead-letter queue keeps the order of a group too.
      MessageGroupId: message.attributes?.MessageGroupId ?? message.messageId,
      MessageDeduplicationId: message.messageId,
      MessageAttributes: {
        reason: { DataType: 'String', StringValue: reason },
        sourceMessageId: { DataType: 'String', StringValue: message.messageId },
        receiveCount: { DataType: 'Number', StringValue: String(receiveCountOf(message)) },
      },
    }));
  }
}

/** How many times SQS has handed the message over, this time included. */
export function receiveCountOf(message: SQSRecord): number {
  return Number(message.attributes?.ApproximateReceiveCount ?? 0);
}
