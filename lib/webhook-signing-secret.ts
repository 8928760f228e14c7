import { Duration, RemovalPolicy, Token, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ROTATION_CONFIG_VERSION, secretBytesProblem } from '../lambda/rotation/config';
import { ROTATION_EVENT_DETAIL_TYPE, ROTATION_EVENT_SOURCE } from '../lambda/rotation/event';
import { handlerDir, newHandlerFunction } from './private/handler-function';

/** How a generated signing secret is written. */
export enum SigningSecretFormat {
  /** Standard Webhooks: `whsec_` and standard base64 of the key bytes. */
  STANDARD_WEBHOOKS = 'whsec',
  /** Lower-case hex of the key bytes. */
  HEX = 'hex',
  /** base64url of the token bytes, without padding: a bearer token. */
  TOKEN = 'token',
}

/** Properties of a {@link WebhookSigningSecret}. */
export interface WebhookSigningSecretProps {
  /**
   * How the secret's value is written; match the scheme that uses it.
   *
   * @default SigningSecretFormat.HEX
   */
  readonly format?: SigningSecretFormat;

  /**
   * Random bytes in each value. 16 to 64 (24 to 64 for Standard Webhooks).
   *
   * @default 32
   */
  readonly bytes?: number;

  /**
   * How often the secret rotates. Between 4 hours and 1000 days.
   *
   * @default Duration.days(30)
   * @see https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_schedule.html
   */
  readonly automaticallyAfter?: Duration;

  /**
   * How long each rotation may take to start, within its scheduled day: Secrets Manager starts
   * it at some point in this window. Between 1 and 24 hours, in whole hours.
   *
   * @default - Secrets Manager's default: the whole day (24 hours), or 4 hours for schedules under a day
   * @see https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_schedule.html
   */
  readonly rotationWindow?: Duration;

  /**
   * The event bus that receives the "Webhook signing secret pending" event when a new value is
   * created, so the senders' side can pick it up.
   *
   * @default - the account's default event bus
   */
  readonly eventBus?: events.IEventBus;

  /**
   * The key that encrypts the secret.
   *
   * @default - the AWS managed key `aws/secretsmanager`
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * A description of the secret.
   *
   * @default - one naming the construct
   */
  readonly description?: string;

  /**
   * How long the rotation function's logs are kept.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * What happens to the secret when it leaves the stack (the construct is removed, the stack is
   * deleted, or a change replaces the secret). Senders hold its value, so by default it is kept:
   * a stack deleted by mistake can be rebuilt with the same value
   * (`secretsmanager.Secret.fromSecretCompleteArn` in a `WebhookAuth`), and senders keep signing
   * as before. A retained secret no longer rotates (its rotation function is deleted with the
   * stack) and is billed until you delete it. `RemovalPolicy.DESTROY` deletes it with the stack;
   * `RemovalPolicy.SNAPSHOT` is refused, since a secret has no snapshot.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A signing secret or token that this stack generates and rotates on a calendar, in Secrets
 * Manager's four steps: a new value is created as AWSPENDING, a "Webhook signing secret pending"
 * event (never the value) goes to EventBridge so the senders can be updated, the value is
 * checked, and it becomes AWSCURRENT. Pass `signingSecret.secret` to a `WebhookAuth`.
 *
 * A secret that a vendor issues (Stripe's `whsec_...`, a GitHub webhook secret) is not one of
 * these: the vendor rotates it; store it in a plain `secretsmanager.Secret` without rotation.
 */
export class WebhookSigningSecret extends Construct {
  /** The secret that holds the value. */
  public readonly secret: secretsmanager.Secret;

  /** The function that rotates it. */
  public readonly rotationFunction: lambda.IFunction;

  /** The rotation schedule. */
  public readonly rotationSchedule: secretsmanager.RotationSchedule;

  private readonly eventBus: events.IEventBus;

  constructor(scope: Construct, id: string, props: WebhookSigningSecretProps = {}) {
    super(scope, id);
    const owner = `WebhookSigningSecret '${this.node.path}'`;
    const format = props.format ?? SigningSecretFormat.HEX;
    const bytes = props.bytes ?? 32;
    const bytesRefused = Token.isUnresolved(bytes) ? undefined : secretBytesProblem(format, bytes);
    if (bytesRefused !== undefined) throw new Error(`${owner}: bytes ${bytesRefused}; pick a size in that range, or remove bytes for 32`);
    const automaticallyAfter = props.automaticallyAfter ?? Duration.days(30);
    if (!automaticallyAfter.isUnresolved()) {
      const hours = automaticallyAfter.toHours({ integral: false });
      if (hours < 4 || hours > 1000 * 24) {
        throw new Error(`${owner}: automaticallyAfter must be between 4 hours and 1000 days, as Secrets Manager allows, got ${automaticallyAfter.toHumanString()}`);
      }
    }

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    if (removalPolicy === RemovalPolicy.SNAPSHOT) {
      throw new Error(`${owner}: removalPolicy cannot be RemovalPolicy.SNAPSHOT: a Secrets Manager secret has no snapshot. Use RemovalPolicy.RETAIN (the default) or RemovalPolicy.DESTROY`);
    }

    const rotationWindow = props.rotationWindow;
    if (rotationWindow !== undefined && !rotationWindow.isUnresolved()) {
      const hours = rotationWindow.toHours({ integral: false });
      if (!Number.isInteger(hours) || hours < 1 || hours > 24) {
        throw new Error(`${owner}: rotationWindow must be a whole number of hours from 1 to 24, got ${rotationWindow.toHumanString()}`);
      }
      if (!automaticallyAfter.isUnresolved() && hours > automaticallyAfter.toHours({ integral: false })) {
        throw new Error(`${owner}: rotationWindow (${rotationWindow.toHumanString()}) cannot be longer than automaticallyAfter (${automaticallyAfter.toHumanString()})`);
      }
    }

    // The first value is a placeholder that rotation replaces right at deployment, in the format.
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      description: props.description ?? `Webhook signing secret of ${this.node.path}, rotated every ${automaticallyAfter.toHumanString()}`,
      encryptionKey: props.encryptionKey,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy,
    });

    const eventBus = props.eventBus ?? events.EventBus.fromEventBusName(this, 'DefaultBus', 'default');
    this.eventBus = eventBus;
    const fn = newHandlerFunction(this, {
      name: 'Rotation',
      description: `Rotates the webhook signing secret of ${this.node.path}`,
      code: lambda.Code.fromAsset(handlerDir('rotation')),
      config: { version: ROTATION_CONFIG_VERSION, format, bytes, ...(props.eventBus === undefined ? {} : { eventBusName: eventBus.eventBusName }) },
      serviceName: this.node.id,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      timeout: Duration.minutes(2),
    });
    this.rotationFunction = fn;
    eventBus.grantPutEventsTo(fn);

    this.rotationSchedule = this.secret.addRotationSchedule('Rotation', {
      rotationLambda: fn,
      automaticallyAfter,
      rotateImmediatelyOnUpdate: true,
    });
    if (rotationWindow !== undefined) {
      // RotationScheduleOptions has no window; RotationRules.Duration is the CloudFormation field.
      const cfn = this.rotationSchedule.node.defaultChild as secretsmanager.CfnRotationSchedule;
      cfn.addPropertyOverride('RotationRules.Duration', `${rotationWindow.toHours()}h`);
    }
    // RotationSchedule grants secretsmanager:GetRandomPassword, which has no resource to scope to.
    Validations.of(fn.role ?? fn).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'The one wildcard is secretsmanager:GetRandomPassword, which the rotation schedule grants and IAM cannot scope to a resource; it reads and writes no secret. Every other action is on this secret and this event bus only.',
    });
  }

  /**
   * A rule on the "Webhook signing secret pending" events of this secret: one per rotation (or
   * more: deduplicate on `detail.versionId`), pointing at the new version, never holding it. Give
   * it a target that hands the new value to the senders.
   */
  public onSecretPending(id: string, options: events.OnEventOptions = {}): events.Rule {
    const rule = new events.Rule(this, id, {
      eventBus: this.eventBus,
      description: options.description ?? `New signing secret pending for ${this.node.path}`,
      ruleName: options.ruleName,
      crossStackScope: options.crossStackScope,
      eventPattern: {
        ...options.eventPattern,
        source: [ROTATION_EVENT_SOURCE],
        detailType: [ROTATION_EVENT_DETAIL_TYPE],
        detail: { ...options.eventPattern?.detail, secretArn: [this.secret.secretArn] },
      },
    });
    if (options.target !== undefined) rule.addTarget(options.target);
    return rule;
  }
}
