import { decodeSpillMessage, encodeSpillMessage, SpillMessageError } from '../../../lambda/common/spill-message';

const STREAM = 'orders-stream';

describe('the spilled message', () => {
  test('is a small JSON document that decodes to the same record', () => {
    const record = { streamName: STREAM, partitionKey: 'cus_1', data: Buffer.from([0, 1, 2, 250, 255]) };
    const body = encodeSpillMessage(record);
    expect(JSON.parse(body)).toEqual({ v: 1, streamName: STREAM, partitionKey: 'cus_1', data: 'AAEC+v8=' });
    expect(decodeSpillMessage(body)).toEqual(record);
  });

  test.each([
    ['that is not JSON', '{"v":1,"streamName":"s","partitionKey":"card 4242424242424242"', 'notJson'],
    ['that is an array', '[1,2]', 'notObject'],
    ['of another version', JSON.stringify({ v: 2, streamName: 's', partitionKey: 'k', data: '' }), 'version'],
    ['without a stream name', JSON.stringify({ v: 1, partitionKey: 'k', data: '' }), 'streamName'],
    ['with an empty key', JSON.stringify({ v: 1, streamName: 's', partitionKey: '', data: '' }), 'partitionKey'],
    ['with a key over 256 characters', JSON.stringify({ v: 1, streamName: 's', partitionKey: 'k'.repeat(257), data: '' }), 'partitionKey'],
    ['whose data is not base64', JSON.stringify({ v: 1, streamName: 's', partitionKey: 'k', data: 'card 4242424242424242' }), 'data'],
  ])('fails to decode a body %s, without quoting it', (_, body, problem) => {
    const error = (() => { try { decodeSpillMessage(body); } catch (e) { return e; } return undefined; })() as SpillMessageError;
    expect(error).toBeInstanceOf(SpillMessageError);
    expect(error.problem).toBe(problem);
    expect(error.message).not.toMatch(/4242|card/);
  });
});
