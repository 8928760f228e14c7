/** The slice of Powertools' Logger the request paths use. Attributes never hold a body, a header value or a secret. */
export interface HandlerLogger {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}
