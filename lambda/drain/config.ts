import { ConfigError, readConfigDocument, requirePositiveInt, requireString } from '../common/config-document';

/** Bumped whenever the drain's configuration document changes shape. */
export const DRAIN_CONFIG_VERSION = 2;

/** What the construct hands the drain function, as JSON in CONFIG_ENV_VAR. */
export interface DrainConfig {
  readonly version: typeof DRAIN_CONFIG_VERSION;
  /** The streams the drain may write to. A message naming any other is poison. */
  readonly streamNames: readonly string[];
  /** Where the drain sends a poison message (one that can never be written), with its reason. */
  readonly deadLetterQueueUrl: string;
  /** PutRecords attempts per call, the first one included. */
  readonly maxAttempts: number;
  /** Time that retries of one batch may take in all. */
  readonly retryBudgetMs: number;
  /** No PutRecords call starts later than this after the batch began. */
  readonly writeDeadlineMs: number;
}

function streamNamesOf(value: unknown): string[] {
  const names = Array.isArray(value) ? value.filter((name): name is string => typeof name === 'string' && name !== '') : [];
  if (!Array.isArray(value) || names.length === 0 || names.length !== value.length) {
    throw new ConfigError('streamNames must be a non-empty list of stream names');
  }
  return names;
}

/** Parses and validates the drain's configuration document. Throws ConfigError. */
export function parseDrainConfig(json: string | undefined): DrainConfig {
  const doc = readConfigDocument(json, DRAIN_CONFIG_VERSION, 'this drain reads version');
  return {
    version: DRAIN_CONFIG_VERSION,
    streamNames: streamNamesOf(doc.streamNames),
    deadLetterQueueUrl: requireString(doc, 'deadLetterQueueUrl', 'config'),
    maxAttempts: requirePositiveInt(doc, 'maxAttempts', 'config'),
    retryBudgetMs: requirePositiveInt(doc, 'retryBudgetMs', 'config'),
    writeDeadlineMs: requirePositiveInt(doc, 'writeDeadlineMs', 'config'),
  };
}
