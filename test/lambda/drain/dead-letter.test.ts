import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { DeadLetterSender, receiveCountOf } from '../../../lambda/drain/dead-letter';
import { LocalSqs } from '../../support/fauxqs';
import { fifoSqsRecord } from '../../support/sqs-record';

function poison(messageId: string, groupId: string, body: string, receiveCount = 2): SQSRecord {
  return fifoSqsRecord({ messageId, body, groupId, deduplicationId: `dedup-${messageId}`, receiveCount });
}

describe('DeadLetterSender against fauxqs', () => {
  let sqs: LocalSqs;
  beforeAll(async () => {
    sqs = await LocalSqs.start();
  });
  afterAll(async () => {
    await sqs.stop();
  });

  async function received(queueUrl: string) {
    const { Messages = [] } = await sqs.client.send(new ReceiveMessageCommand({
      QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'],
    }));
    return Messages.map((m) => ({
      body: m.Body,
      group: m.Attributes?.MessageGroupId,
      attributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue])),
    }));
  }

  test('sends the body unchanged, in the group it came from, with the reason, the source message id and the receive count', async () => {
    // GIVEN
    const { queueUrl } = await sqs.createFifoQueue('dlq-a');
    // WHEN
    await new DeadLetterSender(sqs.client, queueUrl).send(poison('m-1', 'cus_1', '{"not":"a spilled record"'), 'notJson');
    // THEN
    expect(await received(queueUrl)).toEqual([{
      body: '{"not":"a spilled record"',
      group: 'cus_1',
      attributes: { reason: 'notJson', sourceMessageId: 'm-1', receiveCount: '2' },
    }]);
  });

  test('a message sent twice (the drain failed after sending it) is kept once', async () => {
    const { queueUrl } = await sqs.createFifoQueue('dlq-b');
    const sender = new DeadLetterSender(sqs.client, queueUrl);
    await sender.send(poison('m-2', 'g', 'x', 1), 'notJson');
    await sender.send(poison('m-2', 'g', 'x', 2), 'notJson');
    expect(await received(queueUrl)).toHaveLength(1);
  });

  test('fails when the queue does not take the message', async () => {
    const sender = new DeadLetterSender(sqs.client, `${sqs.endpoint}/000000000000/no-such-dlq.fifo`);
    await expect(sender.send(poison('m-3', 'g', 'x'), 'notJson')).rejects.toThrow();
  });
});

describe('receiveCountOf', () => {
  test('reads ApproximateReceiveCount', () => {
    expect(receiveCountOf(poison('m', 'g', 'x', 4))).toBe(4);
  });
});
