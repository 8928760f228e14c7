import { resolvePointer } from './json-pointer';
import type { HandlerLogger } from './logger';
import type { JsonObject } from './parse';

/** The shortest value that is scrubbed; shorter ones would match too much unrelated text. */
export const MIN_REDACTED_LENGTH = 4;
export const REDACTED = '[REDACTED]';

function scalars(value: unknown, into: Set<string>): void {
  if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) {
    const text = String(value);
    if (text.length >= MIN_REDACTED_LENGTH) into.add(text);
  } else if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) scalars(child, into);
  }
}

/**
 * Scrubs the values found at configured JSON pointers of a request's events from every log line
 * of that request. The handler logs no payload by design; this keeps a value out of the logs even
 * when something quotes it anyway, such as the message of an unexpected error.
 */
export class Redactor {
  private readonly values = new Set<string>();

  constructor(private readonly pointers: readonly string[]) {}

  /** Remembers the values at the configured pointers of these events (every leaf under them). */
  collect(events: readonly JsonObject[]): void {
    for (const event of events) {
      for (const pointer of this.pointers) scalars(resolvePointer(event, pointer), this.values);
    }
  }

  /** The text with every remembered value replaced by `[REDACTED]`, longest first. */
  scrub(text: string): string {
    let result = text;
    for (const value of [...this.values].sort((a, b) => b.length - a.length)) result = result.split(value).join(REDACTED);
    return result;
  }

  /** A logger whose string attributes, stacks included, are scrubbed before they are written. */
  wrap(logger: HandlerLogger): HandlerLogger {
    const clean = (attributes: Record<string, unknown>) => (this.values.size === 0
      ? attributes
      : JSON.parse(this.scrub(JSON.stringify(attributes))) as Record<string, unknown>);
    return {
      info: (message, attributes) => logger.info(message, clean(attributes)),
      warn: (message, attributes) => logger.warn(message, clean(attributes)),
      error: (message, attributes) => logger.error(message, clean(attributes)),
    };
  }
}
