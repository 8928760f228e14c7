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
});
