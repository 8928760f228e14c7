import { Arn, ArnFormat, Duration, Size, Token, Validations } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  TRIGGER_CONFIG_VERSION,
  type ParameterMapping,
  type ParameterSource,
  type TriggerConfig,
} from '../lambda/trigger/config';
import { compileJsonPath } from '../lambda/trigger/json-path';
import { handlerAuthConfig } from './private/handler-auth';
import {
  bindFunctionOptions, grantSigningSecretRead, HANDLER_ANSWER_SECONDS, handlerDir, handlerMetric, newHandlerFunction,
} from './private/handler-function';
import { secretSettings } from './private/secret-settings';
import { HEADER_NAME } from './private/http-names';
import { checkMutualTls } from './private/mutual-tls';
import { iam5ResourceFinding } from './private/nag-finding';
import { bindPathLimits, triggerThrottleDefault, warnAboveReservedConcurrency } from './private/path-throttle';
import { WebhookAuth } from './webhook-auth';
import type { WebhookFunctionOptions } from './webhook-function-options';
import { WebhookGateway } from './webhook-gateway';

/** The JSON type a run parameter must have. */
export enum ParameterType {
  /** A string. */
  STRING = 'string',
  /** Any number. */
  NUMBER = 'number',
  /** A whole number. */
  INTEGER = 'integer',
  /** true or false. */
  BOOLEAN = 'boolean',
  /** A JSON object. */
  OBJECT = 'object',
  /** A JSON array. */
  ARRAY = 'array',
}

/** Options for a run parameter taken from the request. */
export interface TriggerParameterOptions {
  /**
   * Whether the request must carry it (not missing, not null).
   *
   * @default false
   */
  readonly required?: boolean;

  /**
   * The JSON type it must have. (Named `jsonType`, not `type`, which is a reserved word in Go.)
   *
   * @default - any type
   */
  readonly jsonType?: ParameterType;
}


/** Where a run parameter of a {@link WebhookTrigger} comes from. */
export class TriggerParameter {
  /**
   * A value of the JSON body, by a JSONPath-like reference: `$.export_id`, `$.items[0].uri` or
   * `$['file name']`. Filters, wildcards and scripts are not accepted.
   */
  public static fromJsonPath(jsonPath: string, options: TriggerParameterOptions = {}): TriggerParameter {
    // The handler's own parser, so that what synthesizes also loads at cold start.
    try {
      compileJsonPath(jsonPath);
    } catch (error) {
      throw new Error(`TriggerParameter.fromJsonPath: '${jsonPath}' is not a supported path (${(error as Error).message}); use $.name, $.items[0].uri or $['a name']`);
    }
    return new TriggerParameter({ jsonPath }, options);
  }

  /** A request header's value. */
  public static fromHeader(name: string, options: TriggerParameterOptions = {}): TriggerParameter {
    if (!HEADER_NAME.test(name)) throw new Error(`TriggerParameter.fromHeader: '${name}' is not a valid HTTP header name`);
    if (options.jsonType !== undefined && options.jsonType !== ParameterType.STRING) {
      throw new Error(`TriggerParameter.fromHeader: a header's value is a string, so its jsonType can only be ParameterType.STRING, got ${options.jsonType}`);
    }
    return new TriggerParameter({ header: name.toLowerCase() }, options);
  }

  /** A fixed value, the same for every run, such as an environment name. */
  public static fromValue(value: any): TriggerParameter {
    if (value === undefined) throw new Error('TriggerParameter.fromValue: the value is undefined; pass null for an explicit null');
    return new TriggerParameter({ value }, {});
  }

  private constructor(private readonly source: ParameterSource, private readonly options: TriggerParameterOptions) {}

  /** @internal */
  public _toMapping(name: string): ParameterMapping {
    return {
      name,
      from: this.source,
      required: this.options.required ?? false,
      ...(this.options.jsonType === undefined ? {} : { type: this.options.jsonType }),
    };
  }
}

/** What a {@link WebhookTrigger} starts. */
export class TriggerTarget {
  /**
   * A Standard state machine. Express workflows are refused: StartExecution is not idempotent for
   * them, so a retried delivery could start a second run.
   */
  public static stateMachine(stateMachine: sfn.IStateMachine): TriggerTarget {
    return new TriggerTarget(stateMachine.stateMachineArn, stateMachine.stateMachineArn, stateMachine);
  }

  /** A published version of a state machine: runs start on exactly that definition. */
  public static version(version: sfn.CfnStateMachineVersion, stateMachine: sfn.IStateMachine): TriggerTarget {
    return new TriggerTarget(version.attrArn, stateMachine.stateMachineArn, stateMachine);
  }

  /** An alias, such as `prod`, that routes to one or two versions: for environments and canaries. */
  public static alias(alias: sfn.CfnStateMachineAlias, stateMachine: sfn.IStateMachine): TriggerTarget {
    return new TriggerTarget(alias.attrArn, stateMachine.stateMachineArn, stateMachine);
  }

  private constructor(
    /** The ARN StartExecution is called with. */
    public readonly targetArn: string,
    /** The state machine's own ARN. */
    public readonly stateMachineArn: string,
    private readonly stateMachine: sfn.IStateMachine,
  ) {}

  /** @internal */
  public _bind(owner: string): { readonly arn: string; readonly stateMachineArn: string } {
    const type = (this.stateMachine as Partial<sfn.StateMachine>).stateMachineType;
    if (type === sfn.StateMachineType.EXPRESS) {
      throw new Error(`${owner}: the target is an Express state machine; StartExecution is not idempotent for Express workflows, so a retried delivery could start a second run. Use a Standard state machine, and start Express work from it`);
    }
    return { arn: this.targetArn, stateMachineArn: this.stateMachineArn };
  }
}

/** How a {@link WebhookTrigger} treats a request whose parameters do not validate. */
export enum TriggerValidation {
  /** The run starts, carrying `validationErrors`, for the state machine to fail visibly. */
  LENIENT = 'lenient',
  /** 400 naming the parameter; no run starts. */
  STRICT = 'strict',
}

/** Properties of a {@link WebhookTrigger}. */
export interface WebhookTriggerProps extends WebhookFunctionOptions {
  /** What a request starts. */
  readonly target: TriggerTarget;

  /**
   * How each request is authenticated.
   *
   * @example WebhookAuth.planasonix(secret)
   */
  readonly auth: WebhookAuth;

  /**
   * The run's parameters, by name, and where each comes from.
   *
   * @default - no parameters
   */
  readonly parameters?: { [name: string]: TriggerParameter };

  /**
   * What happens when a required parameter is missing or has the wrong type.
   *
   * @default TriggerValidation.LENIENT
   */
  readonly validation?: TriggerValidation;

  /**
   * Whether the run input carries the whole JSON body as `body`. Pipelines do better with pointers
   * (URIs) in parameters than with embedded blobs.
   *
   * @default false
   */
  readonly includeBody?: boolean;

  /**
   * The header that names a delivery: a retry with the same value gets the same correlation id and
   * no second run. The auth scheme's delivery id header (GitHub's `X-GitHub-Delivery`, Standard
   * Webhooks' `webhook-id`) is tried next, then a hash of the body.
   *
   * @default 'Idempotency-Key'
   */
  readonly idempotencyHeader?: string;

  /**
   * The gateway to mount on.
   *
   * @default - a gateway of its own
   */
  readonly gateway?: WebhookGateway;

  /**
   * The path callers POST to.
   *
   * @default 'trigger'
   */
  readonly path?: string;

  /**
   * Whether callers must send the `x-api-key` of a sender of the gateway.
   *
   * @default false
   */
  readonly apiKeyRequired?: boolean;

  /**
   * This path's own throttle, a method setting of the gateway's stage: once the path's requests
   * go over it, API Gateway answers 429 with `Retry-After` before the function runs, whatever the
   * other paths receive. `rateLimit` in requests per second, `burstLimit` in requests, at least
   * `rateLimit`; both at most the gateway's stage throttle. A field left out gets its default.
   *
   * @default - `rateLimit` 30 and `burstLimit` 160, never above the gateway's stage throttle: a
   * fifth of Step Functions' StartExecution quota for Standard workflows in most Regions (a
   * bucket of 800 refilled at 150 per second, shared by every workflow of the account), so that
   * a flooded trigger leaves the rest to the account's other workflows. The handler answers a
   * throttled StartExecution with 429 too, but only after its function ran.
   * @see https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html#service-limits-api-action-throttling-general
   */
  readonly throttle?: apigw.ThrottleSettings;

  /**
   * How many requests one IP address may send to this path per evaluation window before AWS WAF
   * blocks it, when the gateway has a rate-limiting web ACL (`waf: WebhookWaf.rateLimit()`).
   * At least 10.
   *
   * @default - the web ACL's limit
   */
  readonly wafRateLimit?: number;

  /**
   * The name in every run input's `source`.
   *
   * @default - the construct's id
   */
  readonly sourceName?: string;

  /**
   * The largest body accepted; Step Functions takes at most 256 KiB of input.
   *
   * @default Size.kibibytes(64)
   */
  readonly maxBodySize?: Size;

  /**
   * What `Retry-After` tells a caller when Step Functions throttles or fails.
   *
   * @default Duration.seconds(10)
   */
  readonly retryAfter?: Duration;

  /**
   * How long the handler caches the signing secret.
   *
   * @default Duration.minutes(1)
   */
  readonly secretCacheTtl?: Duration;

  /**
   * How long, after a rotation makes a new value current, the previous value (AWSPREVIOUS) is
   * still accepted, so senders can move over. 0 stops accepting it at once. The new value is
   * accepted as soon as it is pending (AWSPENDING). Between 0 and 30 days.
   *
   * @default Duration.hours(24)
   */
  readonly previousSecretGrace?: Duration;

  /**
   * How long the handler's logs are kept.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

const PARAMETER_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/**
 * A webhook that starts a Step Functions run: a signed POST is authenticated, its JSON fields are
 * mapped to run parameters, and the run is started with the request's correlation id as its
 * execution name, so a retried delivery never starts a second run.
 *
 * The answer is 202 with `{ correlationId, executionArn }`; the run input is
 * `{ parameters, correlationId, receivedAt, source, validationErrors?, body? }`.
 */
export class WebhookTrigger extends Construct {
  /** The gateway whose path receives the requests. */
  public readonly gateway: WebhookGateway;

  /** The function that verifies each request and starts the run. */
  public readonly triggerFunction: lambda.IFunction;

  /**
   * The full URL that callers POST to: `https://<custom domain>/<path>` when the gateway has a
   * custom domain, else the execute-api URL of the gateway's stage and the path. A deploy-time
   * value: to hand it over, put it in the stack's outputs, such as
   * `new CfnOutput(this, 'ExportTriggerUrl', { value: trigger.webhookUrl })`.
   */
  public readonly webhookUrl: string;

  /** The path's own method throttle on the gateway's stage: what was given, or the default. */
  public readonly webhookThrottle: apigw.ThrottleSettings;

  private readonly serviceName: string;

  constructor(scope: Construct, id: string, props: WebhookTriggerProps) {
    super(scope, id);
    const owner = `WebhookTrigger '${this.node.path}'`;

    const auth = props.auth._bind(owner);
    const target = props.target._bind(owner);
    const parameters = Object.entries(props.parameters ?? {}).map(([name, parameter]) => {
      if (!PARAMETER_NAME.test(name)) {
        throw new Error(`${owner}: parameter name '${name}' must start with a letter or _ and hold up to 64 letters, digits, _ or -`);
      }
      return parameter._toMapping(name);
    });
    const validation = props.validation ?? TriggerValidation.LENIENT;
    if (validation === TriggerValidation.STRICT && !parameters.some((p) => p.required || p.type !== undefined)) {
      throw new Error(`${owner}: strict validation needs at least one parameter that is required or typed; there is nothing to check`);
    }
    const maxBodySize = props.maxBodySize ?? Size.kibibytes(64);
    const maxBodyBytes = maxBodySize.toBytes();
    if (!Token.isUnresolved(maxBodyBytes) && (maxBodyBytes < 1 || maxBodyBytes > 256 * 1024)) {
      throw new Error(`${owner}: maxBodySize must be between 1 byte and 256 KiB, the most Step Functions takes as input, got ${maxBodyBytes} bytes`);
    }
    if (props.includeBody && !Token.isUnresolved(maxBodyBytes) && maxBodyBytes > 200 * 1024) {
      throw new Error(`${owner}: with includeBody, maxBodySize must leave room in Step Functions' 256 KiB input for the parameters; keep it at or under 200 KiB, got ${maxBodyBytes} bytes`);
    }
    const idempotencyHeader = props.idempotencyHeader ?? 'Idempotency-Key';
    if (!Token.isUnresolved(idempotencyHeader) && !HEADER_NAME.test(idempotencyHeader)) {
      throw new Error(`${owner}: idempotencyHeader '${idempotencyHeader}' is not a valid HTTP header name`);
    }
    const retryAfter = props.retryAfter ?? Duration.seconds(10);
    const retryAfterSeconds = retryAfter.toSeconds({ integral: false });
    if (retryAfterSeconds < 1 || retryAfterSeconds > 3600 || !Number.isInteger(retryAfterSeconds)) {
      throw new Error(`${owner}: retryAfter must be a whole number of seconds between 1 second and 1 hour, got ${retryAfter.toHumanString()}`);
    }
    const { secretCacheTtlSeconds, previousSecretGraceSeconds } = secretSettings(owner, props);
    checkMutualTls(this, owner, auth, props.gateway);
    const deliveryIdHeader = auth.metadata.id !== undefined && 'header' in auth.metadata.id ? [auth.metadata.id.header] : [];
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const functionOptions = bindFunctionOptions(owner, props, HANDLER_ANSWER_SECONDS.trigger, 'StartExecution, then DescribeExecution for a retried delivery, each tried twice, each try at most 6 s');
    const { throttle, ownGatewayThrottle } = bindPathLimits(this, owner, props, (stage) => triggerThrottleDefault(stage, functionOptions.reservedConcurrentExecutions));
    warnAboveReservedConcurrency(this, owner, throttle, functionOptions.reservedConcurrentExecutions);
    // A gateway of its own takes whatever the path's throttle needs.
    this.gateway = props.gateway ?? new WebhookGateway(this, 'Gateway', {
      logRetention,
      throttle: ownGatewayThrottle,
    });
    this.webhookThrottle = throttle;
    const webhookPath = props.path ?? 'trigger';

    const config: TriggerConfig = {
      version: TRIGGER_CONFIG_VERSION,
      source: props.sourceName ?? id,
      target,
      auth: handlerAuthConfig(auth, this.gateway._customDomainUrlForPath(webhookPath)),
      secretCacheTtlSeconds,
      previousSecretGraceSeconds,
      headerAliases: auth.headerAliases,
      parameters,
      validation,
      includeBody: props.includeBody ?? false,
      idempotencyHeaders: [...new Set([idempotencyHeader.toLowerCase(), ...deliveryIdHeader])],
      maxBodyBytes,
      retryAfterSeconds,
    };
    this.serviceName = config.source;

    const fn = newHandlerFunction(this, {
      name: 'Trigger',
      description: `Verifies ${auth.preset} requests and starts runs (${this.node.path})`,
      code: lambda.Code.fromAsset(handlerDir('trigger')),
      config,
      serviceName: config.source,
      logRetention,
      ...functionOptions,
    });
    this.triggerFunction = fn;

    // Least privilege: start executions of this one target, read this one secret.
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['states:StartExecution'], resourceArns: [target.arn] });
    // To tell a retry from a reused idempotency key, the handler reads back the run a name
    // already names: DescribeExecution on the executions of this one state machine, whichever
    // version or alias started them (their ARNs name the state machine).
    const machine = Arn.split(target.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME);
    const executions = Arn.format({ ...machine, resource: 'execution', resourceName: `${machine.resourceName}:*` });
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['states:DescribeExecution'], resourceArns: [executions] });
    Validations.of(fn.role ?? fn).acknowledge({
      id: iam5ResourceFinding(this, executions),
      reason: 'Execution names are the senders\' idempotency keys, unknown in advance: states:DescribeExecution (read only) '
        + 'is on the executions of this one state machine, to tell a retried delivery from a reused key.',
    });
    if (auth.secret !== undefined) grantSigningSecretRead(fn, auth.secret);

    this.gateway._addWebhookRoute(webhookPath, fn, { requiredHeader: auth.requiredHeader, apiKeyRequired: props.apiKeyRequired, throttle, wafRateLimit: props.wafRateLimit });
    this.webhookUrl = this.gateway.urlForPath(webhookPath);
  }

  /**
   * Requests verified with a secret that is not the current one: the pending value (senders that
   * moved early) or the previous one, within its grace period (senders not yet moved). After a
   * rotation finishes, this falling to zero is the cutover: every sender signs with the new value.
   *
   * Statistic: Sum. Period: 5 minutes.
   */
  public metricNonCurrentSecretRequests(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return handlerMetric('NonCurrentSecretRequests', this.serviceName, props);
  }
}
