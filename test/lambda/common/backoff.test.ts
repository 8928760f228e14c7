import { Backoff } from '../../../lambda/common/backoff';

describe('Backoff', () => {
  function backoff(random = 1) {
    const slept: number[] = [];
    let clock = 1_000;
    const b = new Backoff({ baseDelayMs: 50, maxDelayMs: 300, random: () => random, now: () => clock, sleep: async (ms) => { slept.push(ms); clock += ms; } });
    return { b, slept };
  }

  test('waits a random part of a delay that doubles from the base up to the cap (full jitter)', async () => {
    // GIVEN
    const { b, slept } = backoff(1);
    // WHEN
    for (let attempt = 2; attempt <= 6; attempt++) expect(await b.beforeRetry(attempt, { maxAttempts: 10, retryDeadline: 100_000 })).toBe(true);
    // THEN
    expect(slept).toEqual([50, 100, 200, 300, 300]);
  });

  test('scales the delay by the random draw', async () => {
    const { b, slept } = backoff(0.25);
    await b.beforeRetry(3, { maxAttempts: 10, retryDeadline: 100_000 });
    expect(slept).toEqual([25]);
  });

  test('refuses, without waiting, an attempt past maxAttempts', async () => {
    const { b, slept } = backoff();
    expect(await b.beforeRetry(4, { maxAttempts: 3, retryDeadline: 100_000 })).toBe(false);
    expect(slept).toEqual([]);
  });

  test('refuses, without waiting, a retry whose wait would end after the deadline', async () => {
    const { b, slept } = backoff();
    // The clock says 1000; a wait of 100 would end at 1100.
    expect(await b.beforeRetry(3, { maxAttempts: 10, retryDeadline: 1_099 })).toBe(false);
    expect(await b.beforeRetry(3, { maxAttempts: 10, retryDeadline: 1_100 })).toBe(true);
    expect(slept).toEqual([100]);
  });

  describe('retry', () => {
    const limits = { maxAttempts: 3, retryDeadline: 100_000 };

    test('sends again only the items an attempt hands back, until none is left', async () => {
      // GIVEN an attempt that fails every item above 1 once
      const { b, slept } = backoff(1);
      const sent: number[][] = [];
      const retried: number[][] = [];
      const failedOnce = new Set<number>();
      // WHEN
      const outcome = await b.retry([1, 2, 3], {
        limits,
        startDeadline: 100_000,
        onRetry: (pending) => retried.push([...pending]),
        attempt: async (pending) => {
          sent.push([...pending]);
          return pending.filter((item) => item > 1 && !failedOnce.has(item) && failedOnce.add(item));
        },
      });
      // THEN
      expect(sent).toEqual([[1, 2, 3], [2, 3]]);
      expect(retried).toEqual([[2, 3]]);
      expect(slept).toEqual([50]);
      expect(outcome).toEqual({ pending: [], attempts: 2 });
    });

    test('stops as exhausted once maxAttempts attempts failed, with the items still pending', async () => {
      const { b, slept } = backoff(1);
      const stuck = await b.retry(['a'], { limits, startDeadline: 100_000, attempt: async (pending) => pending });
      expect(stuck).toEqual({ pending: ['a'], attempts: 3, stop: 'exhausted' });
      expect(slept).toEqual([50, 100]);
    });

    test('starts no attempt after the start deadline, the first one included', async () => {
      const { b } = backoff(1);
      const attempt = jest.fn(async (pending: readonly string[]) => pending);
      // The clock says 1000.
      expect(await b.retry(['a'], { limits, startDeadline: 999, attempt })).toEqual({ pending: ['a'], attempts: 0, stop: 'startDeadline' });
      expect(attempt).not.toHaveBeenCalled();
    });

    test('stops before the next attempt once stopped says so', async () => {
      const { b, slept } = backoff(1);
      let stop = false;
      const attempt = jest.fn(async (pending: readonly string[]) => { stop = true; return pending; });
      const outcome = await b.retry(['a'], { limits, startDeadline: 100_000, attempt, stopped: () => stop });
      expect(outcome).toEqual({ pending: ['a'], attempts: 1, stop: 'stopped' });
      expect(attempt).toHaveBeenCalledTimes(1);
      expect(slept).toEqual([]);
    });
  });
});
