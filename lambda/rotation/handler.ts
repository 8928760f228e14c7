/**
 * The rotation function of a webhook signing secret, in Secrets Manager's four steps.
 *
 * Secrets Manager invokes the function once per step, always with the same ClientRequestToken
 * (the new version's id), and invokes a step again when it failed or timed out. Every step is
 * therefore safe to repeat: createSecret never makes a second value for one token, and
 * finishSecret never moves AWSCURRENT twice.
 *
 * A secret that holds `{"active": [...]}` (two bearer tokens during a manual, two-step rotation)
 * is refused in createSecret: it rotates by hand, and the construct schedules no rotation for it.
 *
 * No secret value, and no RotationToken, ever reaches a log line, an error message or an event.
 */
import { randomBytes } from 'node:crypto';
import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { ROTATION_EVENT_DETAIL_TYPE, ROTATION_EVENT_SOURCE } from './event';

export { ROTATION_EVENT_DETAIL_TYPE, ROTATION_EVENT_SOURCE };
import { activeValues } from '../common/credentials';
import { SECRET_FORMATS, type RotationConfig, type SecretFormat } from './config';

/** Writes `bytes` fresh random bytes in the format. */
export function generateSecretValue(format: SecretFormat, bytes: number, random: (size: number) => Buffer = randomBytes): string {
  const key = random(bytes);
  if (key.length !== bytes) throw new RotationError(`the random source returned ${key.length} bytes, not ${bytes}`);
  switch (format) {
    case 'whsec': return `whsec_${key.toString('base64')}`;
    case 'hex': return key.toString('hex');
    case 'token': return key.toString('base64url');
  }
}

/**
 * Why a value is not a valid secret of the format, or undefined when it is. The answer describes
 * the value's shape only; it never quotes the value.
 */
export function secretFormatProblem(value: string, format: SecretFormat): string | undefined {
  let decoded: Buffer;
  switch (format) {
    case 'whsec': {
      if (!value.startsWith('whsec_')) return 'it does not start with whsec_';
      const body = value.slice('whsec_'.length);
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return 'the part after whsec_ is not standard base64';
      decoded = Buffer.from(body, 'base64');
      if (decoded.toString('base64').replace(/=+$/, '') !== body.replace(/=+$/, '')) return 'the part after whsec_ is not canonical base64';
      break;
    }
    case 'hex':
      if (!/^(?:[0-9a-f]{2})+$/.test(value)) return 'it is not an even number of lower-case hex digits';
      decoded = Buffer.from(value, 'hex');
      break;
    case 'token':
      if (!/^[A-Za-z0-9_-]+$/.test(value)) return 'it is not unpadded base64url';
      decoded = Buffer.from(value, 'base64url');
      if (decoded.toString('base64url') !== value) return 'it is not canonical base64url';
      break;
  }
  const { minBytes, maxBytes } = SECRET_FORMATS[format];
  if (decoded.length < minBytes || decoded.length > maxBytes) {
    return `it decodes to ${decoded.length} bytes; ${format} needs ${minBytes} to ${maxBytes}`;
  }
  return undefined;
}


/**
 * The detail of the event setSecret publishes. It points at the new value and never holds it: a
 * consumer with secretsmanager:GetSecretValue reads `{ SecretId: secretArn, VersionId: versionId }`
 * and hands the value to the sender.
 *
 * Delivery is at least once: when Secrets Manager repeats setSecret, the event is published
 * again with the same detail. `versionId` is the key to deduplicate on.
 */
export interface SecretPendingDetail {
  /** Bumped whenever this shape changes. */
  readonly schemaVersion: 1;
  readonly secretArn: string;
  readonly secretName?: string;
  /** The new version: the rotation's ClientRequestToken. */
  readonly versionId: string;
  readonly versionStage: 'AWSPENDING';
  /** The version senders use today (AWSCURRENT), if any. */
  readonly currentVersionId?: string;
  readonly format: SecretFormat;
  readonly bytes: number;
}

/** A rotation step that must fail: Secrets Manager marks the rotation failed and retries it later. */
export class RotationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RotationError';
  }
}

/** What Secrets Manager sends the rotation function. */
export interface RotationEvent {
  readonly Step: string;
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  /** Proves the caller to Secrets Manager when the function assumes a role. Sensitive: never logged. */
  readonly RotationToken?: string;
}

/** The slice of Powertools' Logger the rotation uses. Attributes never hold a secret value or a RotationToken. */
export interface RotationLogger {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

export interface RotationDependencies {
  readonly secretsManager: Pick<SecretsManagerClient, 'send'>;
  readonly events: Pick<EventBridgeClient, 'send'>;
  readonly config: RotationConfig;
  readonly logger: RotationLogger;
  /** The random source for new values. @default crypto.randomBytes */
  readonly random?: (size: number) => Buffer;
}

export type RotationHandler = (event: RotationEvent) => Promise<void>;

const CURRENT = 'AWSCURRENT';
const PENDING = 'AWSPENDING';
const STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
type Step = typeof STEPS[number];

function readEvent(event: RotationEvent): { step: Step; secretId: string; token: string; rotationToken?: string } {
  const { Step: step, SecretId: secretId, ClientRequestToken: token, RotationToken: rotationToken } = event ?? {};
  if (!(STEPS as readonly unknown[]).includes(step)) {
    throw new RotationError(`unknown rotation step ${JSON.stringify(step)}; expected one of ${STEPS.join(', ')}`);
  }
  if (typeof secretId !== 'string' || secretId === '' || typeof token !== 'string' || token === '') {
    throw new RotationError('the rotation event needs a SecretId and a ClientRequestToken');
  }
  return { step: step as Step, secretId, token, ...(typeof rotationToken === 'string' && rotationToken !== '' ? { rotationToken } : {}) };
}

const isNotFound = (error: unknown) => error instanceof Error && error.name === 'ResourceNotFoundException';

/**
 * Runs one rotation step per invocation, after the guards every step shares:
 * rotation must be enabled, the token must be a version of the secret, a token that is already
 * AWSCURRENT (and no longer AWSPENDING) is done, and any other token must be AWSPENDING.
 */
export function createRotationHandler(deps: RotationDependencies): RotationHandler {
  const { secretsManager, events, config, logger } = deps;
  const random = deps.random ?? randomBytes;

  /** One version's value, or undefined when that version or stage holds none. */
  async function readValue(secretId: string, selector: { VersionId?: string; VersionStage: string }): Promise<string | undefined> {
    try {
      const out = await secretsManager.send(new GetSecretValueCommand({ SecretId: secretId, ...selector }));
      if (out.SecretString !== undefined) return out.SecretString;
      return out.SecretBinary === undefined ? undefined : Buffer.from(out.SecretBinary).toString('utf8');
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  return async (event) => {
    const { step, secretId, token, rotationToken } = readEvent(event);
    const where: Record<string, unknown> = { step, secretId, versionId: token };
    try {
      const secret = await secretsManager.send(new DescribeSecretCommand({ SecretId: secretId }));
      const arn = secret.ARN ?? secretId;
      where.secretArn = arn;
      if (secret.RotationEnabled !== true) {
        throw new RotationError(`secret ${arn} does not have rotation enabled; turn it on before rotating`);
      }
      const versions = secret.VersionIdsToStages ?? {};
      const stages = versions[token];
      if (stages === undefined) {
        throw new RotationError(`version ${token} is not a version of secret ${arn}`);
      }
      if (stages.includes(CURRENT) && !stages.includes(PENDING)) {
        logger.info('version is already AWSCURRENT; nothing to do', where);
        return;
      }
      if (!stages.includes(PENDING)) {
        throw new RotationError(`version ${token} of secret ${arn} is not AWSPENDING, so it is not being rotated to`);
      }
      const currentVersionId = Object.keys(versions).find((id) => versions[id].includes(CURRENT));

      switch (step) {
        case 'createSecret': {
          if (await readValue(secretId, { VersionId: token, VersionStage: PENDING }) !== undefined) {
            logger.info('the AWSPENDING value already exists; resuming', where);
            return;
          }
          const current = await readValue(secretId, { VersionStage: CURRENT });
          if (current === undefined) throw new RotationError(`secret ${arn} has no AWSCURRENT value to rotate from`);
          const active = activeValues(current);
          if (active.length !== 1 || active[0] !== current) {
            throw new RotationError(
              `secret ${arn} holds a list of active tokens ({"active": [...]}), which rotates by hand in two steps; ` +
              'it cannot rotate automatically: turn rotation off for it, then add the new token to "active", move the senders and remove the old token',
            );
          }
          if (secretFormatProblem(current, config.format) !== undefined) {
            logger.warn(`the AWSCURRENT value is not in the ${config.format} format; the new value will be`, { ...where, format: config.format });
          }
          await secretsManager.send(new PutSecretValueCommand({
            SecretId: secretId,
            ClientRequestToken: token,
            SecretString: generateSecretValue(config.format, config.bytes, random),
            VersionStages: [PENDING],
            ...(rotationToken === undefined ? {} : { RotationToken: rotationToken }),
          }));
          logger.info('created the AWSPENDING value', { ...where, format: config.format, bytes: config.bytes });
          return;
        }
        case 'setSecret': {
          const detail: SecretPendingDetail = {
            schemaVersion: 1,
            secretArn: arn,
            ...(secret.Name === undefined ? {} : { secretName: secret.Name }),
            versionId: token,
            versionStage: PENDING,
            ...(currentVersionId === undefined ? {} : { currentVersionId }),
            format: config.format,
            bytes: config.bytes,
          };
          const out = await events.send(new PutEventsCommand({
            Entries: [{
              Source: ROTATION_EVENT_SOURCE,
              DetailType: ROTATION_EVENT_DETAIL_TYPE,
              Detail: JSON.stringify(detail),
              Resources: [arn],
              ...(config.eventBusName === undefined ? {} : { EventBusName: config.eventBusName }),
            }],
          }));
          if ((out.FailedEntryCount ?? 0) > 0) {
            const entry = out.Entries?.[0];
            throw new RotationError(`EventBridge did not take the pending event: ${entry?.ErrorCode ?? 'unknown error'} ${entry?.ErrorMessage ?? ''}`.trim());
          }
          logger.info('published the pending event', { ...where, eventId: out.Entries?.[0]?.EventId });
          return;
        }
        case 'testSecret': {
          const pending = await readValue(secretId, { VersionId: token, VersionStage: PENDING });
          if (pending === undefined) {
            throw new RotationError(`version ${token} of secret ${arn} has no AWSPENDING value; createSecret has not run`);
          }
          const problem = secretFormatProblem(pending, config.format);
          if (problem !== undefined) {
            throw new RotationError(`the AWSPENDING value of secret ${arn} (version ${token}) is not a valid ${config.format} secret: ${problem}`);
          }
          if (currentVersionId !== undefined && currentVersionId !== token && await readValue(secretId, { VersionStage: CURRENT }) === pending) {
            throw new RotationError(`the AWSPENDING value of secret ${arn} (version ${token}) equals the AWSCURRENT value; nothing would rotate`);
          }
          logger.info('the AWSPENDING value is valid', { ...where, format: config.format });
          return;
        }
        case 'finishSecret': {
          if (currentVersionId === token) {
            logger.info('version is already AWSCURRENT; nothing to do', where);
            return;
          }
          // Secrets Manager moves AWSPREVIOUS to the version AWSCURRENT leaves.
          await secretsManager.send(new UpdateSecretVersionStageCommand({
            SecretId: secretId,
            VersionStage: CURRENT,
            MoveToVersionId: token,
            ...(currentVersionId === undefined ? {} : { RemoveFromVersionId: currentVersionId }),
          }));
          logger.info('moved AWSCURRENT to the new version', { ...where, previousVersionId: currentVersionId });
          return;
        }
      }
    } catch (error) {
      logger.error('rotation step failed', {
        ...where,
        errorName: error instanceof Error ? error.name : typeof error,
        errorMessage: error instanceof Error ? error.message : undefined,
      });
      throw error;
    }
  };
}
