import { Redactor, REDACTED } from '../../../lambda/common/redact';

describe('Redactor', () => {
  const event = { id: 'evt_1', data: { object: { customer_email: 'jane.doe@example.com', card: { last4: '4242', fingerprint: 'Xt5EWLLDS7FJjR1c' }, amount: 2000 } } };

  test('scrubs every leaf value under the configured pointers from log attributes, stacks included', () => {
    const redactor = new Redactor(['/data/object/customer_email', '/data/object/card']);
    redactor.collect([event]);
    const lines: unknown[] = [];
    const logger = redactor.wrap({ info: (m, a) => lines.push([m, a]), warn: () => undefined, error: (m, a) => lines.push([m, a]) });
    logger.error('unexpected error', { stack: 'Error: no account for jane.doe@example.com (fingerprint Xt5EWLLDS7FJjR1c, last4 4242)\n    at x', id: 'evt_1' });
    expect(lines).toEqual([['unexpected error', { stack: `Error: no account for ${REDACTED} (fingerprint ${REDACTED}, last4 ${REDACTED})\n    at x`, id: 'evt_1' }]]);
  });

  test('leaves values shorter than 4 characters, and unconfigured fields, alone', () => {
    const redactor = new Redactor(['/data/object/amount', '/missing']);
    redactor.collect([{ data: { object: { amount: 7 } } }, event]);
    expect(redactor.scrub('amount 7 of 2000 for evt_1')).toBe(`amount 7 of ${REDACTED} for evt_1`);
  });

  test('without pointers, nothing changes', () => {
    const redactor = new Redactor([]);
    redactor.collect([event]);
    expect(redactor.scrub('jane.doe@example.com')).toBe('jane.doe@example.com');
  });
});
