import type { FieldSource } from '../lambda/ingest/config';
import { HEADER_NAME } from './private/http-names';


/**
 * Where a value of each event comes from: a request header, or a JSON pointer into the event.
 *
 * Used for the event id, type and time, and for the partition key.
 *
 * @example
 * EventField.fromJsonPointer('/data/object/customer');
 * EventField.fromHeader('X-GitHub-Delivery');
 */
export class EventField {
  /**
   * The value of a request header. The same value applies to every event of a batch.
   *
   * @param name the header name, matched case-insensitively
   */
  public static fromHeader(name: string): EventField {
    if (!HEADER_NAME.test(name)) {
      throw new Error(`EventField.fromHeader: '${name}' is not a valid HTTP header name`);
    }
    return new EventField({ header: name.toLowerCase() }, `header ${name}`);
  }

  /**
   * The value at a JSON pointer (RFC 6901) in each event, such as `/id` or `/data/object/id`.
   * Strings and numbers are used as they are; a missing value counts as absent.
   *
   * @see https://www.rfc-editor.org/rfc/rfc6901
   */
  public static fromJsonPointer(pointer: string): EventField {
    if (pointer !== '' && !pointer.startsWith('/')) {
      throw new Error(`EventField.fromJsonPointer: '${pointer}' is not a JSON pointer; it must be empty or start with '/', like '/id'`);
    }
    return new EventField({ jsonPointer: pointer }, `JSON pointer ${pointer}`);
  }

  private constructor(private readonly source: FieldSource, private readonly description: string) {}

  /** A readable description, such as `header X-GitHub-Delivery`. */
  public toString(): string {
    return this.description;
  }

  /** @internal */
  public _toConfig(): FieldSource {
    return this.source;
  }
}
