import { getEventListeners } from 'node:events';
import { tailStream } from '../../cli/tail';
import { LocalKinesis } from '../support/kinesalite';

describe('tailStream', () => {
  let kinesis: LocalKinesis;

  beforeAll(async () => {
    kinesis = await LocalKinesis.start();
    await kinesis.createStream('quiet', 1);
  });

  afterAll(async () => kinesis.stop());

  test('polling an empty stream leaves no listeners behind on the stop signal', async () => {
    // GIVEN a tail of a stream nothing is written to, polling every few milliseconds
    const stop = new AbortController();
    let listeners = -1;
    const polls = new Promise<void>((resolve) => setTimeout(() => {
      // WHEN it has polled many times (more than the 10 listeners Node warns about)
      listeners = getEventListeners(stop.signal, 'abort').length;
      stop.abort();
      resolve();
    }, 400));

    const count = await tailStream(kinesis.client, { stream: 'quiet', pollMs: 5, signal: stop.signal, onRecord: () => undefined });
    await polls;

    // THEN at most the current wait listens, and it stopped with nothing read
    expect(count).toBe(0);
    expect(listeners).toBeLessThanOrEqual(1);
  });
});
