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
import { activeValues } from '../common/credentials';
import type { HandlerLogger } from '../common/logger';
import { SECRET_FORMATS, type RotationConfig, type SecretFormat } from './config';
import { ROTATION_EVENT_DETAIL_TYPE, ROTATION_EVENT_SOURCE } from './event';

export { ROTATION_EVENT_DETAIL_TYPE, ROTATION_EVENT_SOURCE };

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

export interface RotationDependencies {
  readonly secretsManager: Pick<SecretsManagerClient, 'send'>;
  readonly events: Pick<EventBridgeClient, 'send'>;
  readonly config: RotationConfig;
  /** Attributes never hold a secret value or a RotationToken. */
  readonly logger: HandlerLogger;
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

/** The version being rotated to, once the guards every step shares have passed. */
interface Rotation {
  readonly secretId: string;
  readonly token: string;
  readonly rotationToken?: string;
  readonly arn: string;
  readonly name?: string;
  /** The version that is AWSCURRENT, if any. */
  readonly currentVersionId?: string;
  /** The log attributes of this step. */
  readonly where: Record<string, unknown>;
}

/**
 * Runs one rotation step per invocation, after the guards every step shares:
 * rotation must be enabled, the token must be a version of the secret, a token that is already
 * AWSCURRENT (and no longer AWSPENDING) is done, and any other token must be AWSPENDING.
 */
export function createRotationHandler(deps: RotationDependencies): RotationHandler {
  const steps = new RotationSteps(deps);
  return async (event) => {
    const { step, ...request } = readEvent(event);
    const where: Record<string, unknown> = { step, secretId: request.secretId, versionId: request.token };
    try {
      const rotation = await steps.guard(request, where);
      if (rotation !== undefined) await steps[step](rotation);
    } catch (error) {
      deps.logger.error('rotation step failed', {
        ...where,
        errorName: error instanceof Error ? error.name : typeof error,
        errorMessage: error instanceof Error ? error.message : undefined,
      });
      throw error;
    }
  };
}

/** The guards and Secrets Manager's four steps, one method each. */
class RotationSteps {
  private readonly secretsManager: Pick<SecretsManagerClient, 'send'>;
  private readonly events: Pick<EventBridgeClient, 'send'>;
  private readonly config: RotationConfig;
  private readonly logger: HandlerLogger;
  private readonly random: (size: number) => Buffer;

  constructor(deps: RotationDependencies) {
    this.secretsManager = deps.secretsManager;
    this.events = deps.events;
    this.config = deps.config;
    this.logger = deps.logger;
    this.random = deps.random ?? randomBytes;
  }

  /** The rotation the token is for, or undefined when it is already done; throws when it may not go on. */
  async guard(request: { secretId: string; token: string; rotationToken?: string }, where: Record<string, unknown>): Promise<Rotation | undefined> {
    const { secretId, token } = request;
    const secret = await this.secretsManager.send(new DescribeSecretCommand({ SecretId: secretId }));
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
      this.logger.info('version is already AWSCURRENT; nothing to do', where);
      return undefined;
    }
    if (!stages.includes(PENDING)) {
      throw new RotationError(`version ${token} of secret ${arn} is not AWSPENDING, so it is not being rotated to`);
    }
    const currentVersionId = Object.keys(versions).find((id) => versions[id].includes(CURRENT));
    return { ...request, arn, ...(secret.Name === undefined ? {} : { name: secret.Name }), ...(currentVersionId === undefined ? {} : { currentVersionId }), where };
  }

  /** Puts a new random value as AWSPENDING, unless the token already has one. */
  async createSecret(rotation: Rotation): Promise<void> {
    const { secretId, token, rotationToken, where } = rotation;
    if (await this.readValue(secretId, { VersionId: token, VersionStage: PENDING }) !== undefined) {
      this.logger.info('the AWSPENDING value already exists; resuming', where);
      return;
    }
    await this.checkCurrentValue(rotation);
    await this.secretsManager.send(new PutSecretValueCommand({
      SecretId: secretId,
      ClientRequestToken: token,
      SecretString: generateSecretValue(this.config.format, this.config.bytes, this.random),
      VersionStages: [PENDING],
      ...(rotationToken === undefined ? {} : { RotationToken: rotationToken }),
    }));
    this.logger.info('created the AWSPENDING value', { ...where, format: this.config.format, bytes: this.config.bytes });
  }

  /** Throws when the AWSCURRENT value is missing or is a list of active tokens; warns when it is in another format. */
  private async checkCurrentValue({ secretId, arn, where }: Rotation): Promise<void> {
    const current = await this.readValue(secretId, { VersionStage: CURRENT });
    if (current === undefined) throw new RotationError(`secret ${arn} has no AWSCURRENT value to rotate from`);
    const active = activeValues(current);
    if (active.length !== 1 || active[0] !== current) {
      throw new RotationError(
        `secret ${arn} holds a list of active tokens ({"active": [...]}), which rotates by hand in two steps; ` +
        'it cannot rotate automatically: turn rotation off for it, then add the new token to "active", move the senders and remove the old token',
      );
    }
    if (secretFormatProblem(current, this.config.format) !== undefined) {
      this.logger.warn(`the AWSCURRENT value is not in the ${this.config.format} format; the new value will be`, { ...where, format: this.config.format });
    }
  }

  /** Publishes the event that points senders at the AWSPENDING value. */
  async setSecret(rotation: Rotation): Promise<void> {
    const out = await this.events.send(new PutEventsCommand({
      Entries: [{
        Source: ROTATION_EVENT_SOURCE,
        DetailType: ROTATION_EVENT_DETAIL_TYPE,
        Detail: JSON.stringify(this.pendingDetail(rotation)),
        Resources: [rotation.arn],
        ...(this.config.eventBusName === undefined ? {} : { EventBusName: this.config.eventBusName }),
      }],
    }));
    if ((out.FailedEntryCount ?? 0) > 0) {
      const entry = out.Entries?.[0];
      throw new RotationError(`EventBridge did not take the pending event: ${entry?.ErrorCode ?? 'unknown error'} ${entry?.ErrorMessage ?? ''}`.trim());
    }
    this.logger.info('published the pending event', { ...rotation.where, eventId: out.Entries?.[0]?.EventId });
  }

  private pendingDetail({ arn, name, token, currentVersionId }: Rotation): SecretPendingDetail {
    return {
      schemaVersion: 1,
      secretArn: arn,
      ...(name === undefined ? {} : { secretName: name }),
      versionId: token,
      versionStage: PENDING,
      ...(currentVersionId === undefined ? {} : { currentVersionId }),
      format: this.config.format,
      bytes: this.config.bytes,
    };
  }

  /** Checks that the AWSPENDING value is a valid secret of the format and differs from AWSCURRENT. */
  async testSecret({ secretId, token, arn, currentVersionId, where }: Rotation): Promise<void> {
    const pending = await this.readValue(secretId, { VersionId: token, VersionStage: PENDING });
    if (pending === undefined) {
      throw new RotationError(`version ${token} of secret ${arn} has no AWSPENDING value; createSecret has not run`);
    }
    const problem = secretFormatProblem(pending, this.config.format);
    if (problem !== undefined) {
      throw new RotationError(`the AWSPENDING value of secret ${arn} (version ${token}) is not a valid ${this.config.format} secret: ${problem}`);
    }
    if (currentVersionId !== undefined && currentVersionId !== token && await this.readValue(secretId, { VersionStage: CURRENT }) === pending) {
      throw new RotationError(`the AWSPENDING value of secret ${arn} (version ${token}) equals the AWSCURRENT value; nothing would rotate`);
    }
    this.logger.info('the AWSPENDING value is valid', { ...where, format: this.config.format });
  }

  /** Moves AWSCURRENT to the new version, unless it is there already. */
  async finishSecret({ secretId, token, currentVersionId, where }: Rotation): Promise<void> {
    if (currentVersionId === token) {
      this.logger.info('version is already AWSCURRENT; nothing to do', where);
      return;
    }
    // Secrets Manager moves AWSPREVIOUS to the version AWSCURRENT leaves.
    await this.secretsManager.send(new UpdateSecretVersionStageCommand({
      SecretId: secretId,
      VersionStage: CURRENT,
      MoveToVersionId: token,
      ...(currentVersionId === undefined ? {} : { RemoveFromVersionId: currentVersionId }),
    }));
    this.logger.info('moved AWSCURRENT to the new version', { ...where, previousVersionId: currentVersionId });
  }

  /** One version's value, or undefined when that version or stage holds none. */
  private async readValue(secretId: string, selector: { VersionId?: string; VersionStage: string }): Promise<string | undefined> {
    try {
      const out = await this.secretsManager.send(new GetSecretValueCommand({ SecretId: secretId, ...selector }));
      if (out.SecretString !== undefined) return out.SecretString;
      return out.SecretBinary === undefined ? undefined : Buffer.from(out.SecretBinary).toString('utf8');
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}
