import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  InvalidRequestException,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  UpdateSecretVersionStageCommand,
  type DescribeSecretCommandInput,
  type DescribeSecretCommandOutput,
  type GetSecretValueCommandInput,
  type GetSecretValueCommandOutput,
  type PutSecretValueCommandInput,
  type PutSecretValueCommandOutput,
  type SecretsManagerClient,
  type UpdateSecretVersionStageCommandInput,
  type UpdateSecretVersionStageCommandOutput,
} from '@aws-sdk/client-secrets-manager';
import type { AwsClientStub } from 'aws-sdk-client-mock';

const $metadata = {};
const CURRENT = 'AWSCURRENT';
const PREVIOUS = 'AWSPREVIOUS';
const PENDING = 'AWSPENDING';

interface Version {
  /** Undefined for the empty version RotateSecret makes before createSecret runs. */
  value?: string;
  readonly stages: Set<string>;
}

/**
 * One secret's versions and staging labels, in memory, with Secrets Manager's rules for moving
 * labels. No Secrets Manager emulator exists here; `install` answers an aws-sdk-client-mock stub
 * with this state, so a rotation's steps see what the previous ones did.
 *
 * Modelled: a label is on at most one version; moving AWSCURRENT moves AWSPREVIOUS to the version
 * it left; moving a label that another version holds needs RemoveFromVersionId; AWSCURRENT is
 * never just removed; PutSecretValue is idempotent per ClientRequestToken and refuses another
 * value for one; RotateSecret (`startRotation`) attaches AWSPENDING to an empty version and refuses
 * while another rotation is in progress. Versions without labels stay, deprecated, as they do.
 */
export class SecretVersions {
  readonly versions = new Map<string, Version>();
  rotationEnabled = true;

  constructor(readonly arn: string, initial: { versionId: string; value: string }) {
    this.versions.set(initial.versionId, { value: initial.value, stages: new Set([CURRENT]) });
  }

  /** The labels on a version, sorted; empty for a deprecated or unknown version. */
  stagesOf(versionId: string): string[] {
    return [...(this.versions.get(versionId)?.stages ?? [])].sort();
  }

  /** The version holding a label. */
  versionWith(stage: string): string | undefined {
    for (const [id, version] of this.versions) if (version.stages.has(stage)) return id;
    return undefined;
  }

  valueOf(versionId: string): string | undefined {
    return this.versions.get(versionId)?.value;
  }

  /** What RotateSecret does before it invokes createSecret: AWSPENDING on a new, empty version. */
  startRotation(token: string): void {
    const pending = this.versionWith(PENDING);
    if (pending !== undefined && pending !== this.versionWith(CURRENT) && pending !== token) {
      throw new InvalidRequestException({ $metadata, message: 'A previous rotation isn\'t complete. That rotation will be reattempted.' });
    }
    if (!this.versions.has(token)) this.versions.set(token, { stages: new Set() });
    this.attach(PENDING, token);
  }

  describeSecret(input: DescribeSecretCommandInput): DescribeSecretCommandOutput {
    this.checkId(input.SecretId);
    const versionIdsToStages: Record<string, string[]> = {};
    for (const [id, version] of this.versions) if (version.stages.size > 0) versionIdsToStages[id] = this.stagesOf(id);
    return { $metadata, ARN: this.arn, Name: 'webhook-secret', RotationEnabled: this.rotationEnabled, VersionIdsToStages: versionIdsToStages };
  }

  getSecretValue(input: GetSecretValueCommandInput): GetSecretValueCommandOutput {
    this.checkId(input.SecretId);
    const stage = input.VersionStage ?? (input.VersionId === undefined ? CURRENT : undefined);
    const id = input.VersionId ?? (stage === undefined ? undefined : this.versionWith(stage));
    const version = id === undefined ? undefined : this.versions.get(id);
    if (id === undefined || version === undefined || version.value === undefined || (stage !== undefined && !version.stages.has(stage))) {
      throw new ResourceNotFoundException({ $metadata, message: 'Secrets Manager can\'t find the specified secret value for staging label or version id.' });
    }
    return { $metadata, ARN: this.arn, Name: 'webhook-secret', VersionId: id, SecretString: version.value, VersionStages: this.stagesOf(id) };
  }

  putSecretValue(input: PutSecretValueCommandInput): PutSecretValueCommandOutput {
    this.checkId(input.SecretId);
    const id = input.ClientRequestToken;
    if (id === undefined || input.SecretString === undefined) {
      throw new InvalidParameterException({ $metadata, message: 'this fake needs a ClientRequestToken and a SecretString' });
    }
    const existing = this.versions.get(id);
    if (existing?.value !== undefined) {
      if (existing.value !== input.SecretString) {
        throw new ResourceExistsException({ $metadata, message: 'A resource with the ID you requested already exists.' });
      }
      return { $metadata, ARN: this.arn, VersionId: id, VersionStages: this.stagesOf(id) };
    }
    this.versions.set(id, { value: input.SecretString, stages: existing?.stages ?? new Set() });
    for (const stage of input.VersionStages ?? [CURRENT]) this.attach(stage, id);
    return { $metadata, ARN: this.arn, VersionId: id, VersionStages: this.stagesOf(id) };
  }

  updateSecretVersionStage(input: UpdateSecretVersionStageCommandInput): UpdateSecretVersionStageCommandOutput {
    this.checkId(input.SecretId);
    const stage = input.VersionStage as string;
    const holder = this.versionWith(stage);
    if (input.RemoveFromVersionId !== undefined && input.RemoveFromVersionId !== holder) {
      throw new InvalidParameterException({ $metadata, message: `${stage} is not attached to version ${input.RemoveFromVersionId}` });
    }
    if (input.MoveToVersionId === undefined) {
      if (stage === CURRENT) throw new InvalidParameterException({ $metadata, message: 'AWSCURRENT can only move to another version' });
      if (holder !== undefined) this.versions.get(holder)?.stages.delete(stage);
      return { $metadata, ARN: this.arn, Name: 'webhook-secret' };
    }
    if (!this.versions.has(input.MoveToVersionId)) {
      throw new ResourceNotFoundException({ $metadata, message: `no version ${input.MoveToVersionId}` });
    }
    if (holder !== undefined && holder !== input.MoveToVersionId && input.RemoveFromVersionId === undefined) {
      throw new InvalidParameterException({ $metadata, message: `${stage} is attached to version ${holder}; name it in RemoveFromVersionId` });
    }
    this.attach(stage, input.MoveToVersionId);
    return { $metadata, ARN: this.arn, Name: 'webhook-secret' };
  }

  /** Answers the stub's DescribeSecret, GetSecretValue, PutSecretValue and UpdateSecretVersionStage from this state. */
  install(stub: AwsClientStub<SecretsManagerClient>): this {
    stub.on(DescribeSecretCommand).callsFake((input: DescribeSecretCommandInput) => this.describeSecret(input));
    stub.on(GetSecretValueCommand).callsFake((input: GetSecretValueCommandInput) => this.getSecretValue(input));
    stub.on(PutSecretValueCommand).callsFake((input: PutSecretValueCommandInput) => this.putSecretValue(input));
    stub.on(UpdateSecretVersionStageCommand).callsFake((input: UpdateSecretVersionStageCommandInput) => this.updateSecretVersionStage(input));
    return this;
  }

  /** Puts the label on one version, taking it off any other; AWSCURRENT leaves AWSPREVIOUS behind. */
  private attach(stage: string, versionId: string): void {
    const holder = this.versionWith(stage);
    if (holder === versionId) return;
    if (holder !== undefined) this.versions.get(holder)?.stages.delete(stage);
    this.versions.get(versionId)?.stages.add(stage);
    if (stage === CURRENT && holder !== undefined) this.attach(PREVIOUS, holder);
  }

  private checkId(secretId: string | undefined): void {
    if (secretId !== this.arn) throw new ResourceNotFoundException({ $metadata, message: 'Secrets Manager can\'t find the specified secret.' });
  }
}
