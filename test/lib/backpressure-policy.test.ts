import { Duration } from 'aws-cdk-lib';
import { BackpressurePolicy } from '../../lib';

describe('BackpressurePolicy.rejectWith429', () => {
  test('defaults: Retry-After 30 s, a 5 s retry budget, 6 attempts', () => {
    expect(BackpressurePolicy.rejectWith429()._bind('X').config).toEqual({ kind: 'rejectWith429', retryAfterSeconds: 30, retryBudgetMs: 5000, maxAttempts: 6 });
  });

  test('Retry-After defaults to six times the retry budget', () => {
    expect(BackpressurePolicy.rejectWith429({ retryBudget: Duration.millis(1500) })._bind('X').config).toMatchObject({ retryAfterSeconds: 9 });
    expect(BackpressurePolicy.rejectWith429({ retryBudget: Duration.millis(100) })._bind('X').config).toMatchObject({ retryAfterSeconds: 1 });
  });

  test('options map to the handler configuration', () => {
    expect(BackpressurePolicy.rejectWith429({ retryAfter: Duration.minutes(2), retryBudget: Duration.millis(1500), maxAttempts: 3 })._bind('X').config)
      .toEqual({ kind: 'rejectWith429', retryAfterSeconds: 120, retryBudgetMs: 1500, maxAttempts: 3 });
  });

  test('fails when the retry budget could outlast API Gateway', () => {
    expect(() => BackpressurePolicy.rejectWith429({ retryBudget: Duration.seconds(30) })._bind('Owner'))
      .toThrow('Owner: retryBudget must be between 100 milliseconds and 20 seconds, got 30 seconds');
  });

  test('fails when Retry-After is not whole seconds from 1 s to 1 h', () => {
    expect(() => BackpressurePolicy.rejectWith429({ retryAfter: Duration.hours(2) })._bind('X')).toThrow(/retryAfter must be .* got 2 hours/);
    expect(() => BackpressurePolicy.rejectWith429({ retryAfter: Duration.millis(500) })._bind('X')).toThrow(/retryAfter must be/);
  });

  test('fails when maxAttempts is not from 1 to 20', () => {
    expect(() => BackpressurePolicy.rejectWith429({ maxAttempts: 0 })._bind('X')).toThrow(/maxAttempts must be a whole number between 1 and 20, got 0/);
    expect(() => BackpressurePolicy.rejectWith429({ maxAttempts: 2.5 })._bind('X')).toThrow(/got 2.5/);
  });
});

describe('BackpressurePolicy.sampleOrShed', () => {
  test('options map to the handler configuration, and the loss budget to the construct', () => {
    expect(BackpressurePolicy.sampleOrShed({ keepFraction: 0.25, lossBudget: 0.5 })._bind('X')).toEqual({
      config: { kind: 'sampleOrShed', keepFraction: 0.25, pressureWindowMs: 30_000, retryBudgetMs: 2000, maxAttempts: 4 },
      lossBudget: 0.5,
    });
  });

  test('fails when the fraction or the budget is out of range', () => {
    expect(() => BackpressurePolicy.sampleOrShed({ keepFraction: 1, lossBudget: 0.1 })._bind('Owner')).toThrow('Owner: keepFraction must be from 0 to less than 1 (0 sheds whole requests), got 1');
    expect(() => BackpressurePolicy.sampleOrShed({ keepFraction: 0.5, lossBudget: 0 })._bind('Owner')).toThrow(/lossBudget must be more than 0 and at most 1, got 0/);
    expect(() => BackpressurePolicy.sampleOrShed({ keepFraction: 0.5, lossBudget: 0.2, pressureWindow: Duration.millis(10) })._bind('X')).toThrow(/pressureWindow must be between 1 second and 1 hour/);
  });
});
