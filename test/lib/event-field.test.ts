import { EventField } from '../../lib';

describe('EventField', () => {
  test('fromHeader matches the header case-insensitively', () => {
    const field = EventField.fromHeader('X-GitHub-Delivery');
    expect(field._toConfig()).toEqual({ header: 'x-github-delivery' });
    expect(field.toString()).toBe('header X-GitHub-Delivery');
  });

  test('fromJsonPointer keeps the pointer as given', () => {
    expect(EventField.fromJsonPointer('/data/object/id')._toConfig()).toEqual({ jsonPointer: '/data/object/id' });
    expect(EventField.fromJsonPointer('')._toConfig()).toEqual({ jsonPointer: '' });
  });

  test('fails when the pointer does not start with a slash', () => {
    expect(() => EventField.fromJsonPointer('data.id')).toThrow("EventField.fromJsonPointer: 'data.id' is not a JSON pointer; it must be empty or start with '/', like '/id'");
  });

  test('fails when the header name is not a token', () => {
    expect(() => EventField.fromHeader('X Id')).toThrow(/'X Id' is not a valid HTTP header name/);
  });
});
