import { Annotations, Duration, Size, Token } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  allowlistHeaderName,
  headerAllowlistProblem,
  INGEST_CONFIG_VERSION,
  multipartFileSizeProblem,
  multipartLimitProblem,
  writeDeadlineMsFor,
  type IngestConfig,
} from '../lambda/ingest/config';
import { BackpressurePolicy } from './backpressure-policy';
import { ClaimCheck } from './claim-check';
import { PayloadValidation, stageHandlerAsset } from './payload-schema';
import { handlerAuthConfig } from './private/handler-auth';
import {
  bindFunctionOptions, grantSigningSecretRead, HANDLER_ANSWER_SECONDS, handlerDir, handlerMetric, newHandlerFunction,
} from './private/handler-function';
import { secretSettings } from './private/secret-settings';
import { SpillQueue } from './private/spill-queue';
import { WEBHOOK_PATH } from './private/http-names';
import { checkMutualTls } from './private/mutual-tls';
import { bindPathLimits, sourceThrottleDefault, warnAboveReservedConcurrency } from './private/path-throttle';
import { Deduplication } from './deduplication';
import { EventField } from './event-field';
import { WebhookAuth } from './webhook-auth';
import type { WebhookFunctionOptions } from './webhook-function-options';
import { WebhookGateway } from './webhook-gateway';

/** Events of some types sent to a stream of their own. */
export interface EventRoute {
  /** The event types this route takes, such as `track` or `identify`. */
  readonly eventTypes: string[];

  /** The stream they go to instead of the source's. */
  readonly stream: kinesis.IStream;
}

/** Limits of `multipart/form-data` bodies. */
export interface MultipartOptions {
  /**
   * The most files one body may carry.
   *
   * @default 10
   */
  readonly maxFiles?: number;

  /**
   * The largest file.
   *
   * @default - the source's maxBodySize
   */
  readonly maxFileSize?: Size;

  /**
   * The most non-file fields.
   *
   * @default 100
   */
  readonly maxFields?: number;

  /**
   * The largest field value.
   *
   * @default Size.kibibytes(64)
   */
  readonly maxFieldSize?: Size;
}

/** Properties of a {@link WebhookStreamSource}. */
export interface WebhookStreamSourceProps extends WebhookFunctionOptions {
  /** How each request is authenticated, such as `WebhookAuth.stripe(secret)`. */
  readonly auth: WebhookAuth;

  /**
   * The stream that receives one record per accepted event. When you pass a stream encrypted
   * with a customer-managed key, import it with its `encryptionKey` so the handler is granted
   * `kms:GenerateDataKey` on it.
   *
   * @default - a new on-demand stream with 24 hours of retention, encrypted at rest with the
   * AWS managed key `aws/kinesis`
   */
  readonly stream?: kinesis.IStream;

  /**
   * The gateway to mount on, shared with other sources: a custom domain, mTLS, an IP allowlist,
   * usage plans.
   *
   * @default - a gateway of its own, on the execute-api endpoint
   */
  readonly gateway?: WebhookGateway;

  /**
   * The URL path senders POST to, relative to the gateway's stage or domain, such as `stripe`
   * or `hooks/github`. Unique on the gateway.
   *
   * @default 'webhook'
   */
  readonly path?: string;

  /**
   * Whether callers must send the `x-api-key` of a sender added with `gateway.addSender()`,
   * which throttles and meters them by their usage plan. Only for senders that can add a header:
   * vendors such as Stripe cannot.
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
   * @default - derived from the backpressure policy, and never above the gateway's stage throttle.
   * With `rejectWith429` and `sampleOrShed`, whose senders retry a 429, the path is held to what
   * 100 concurrent executions of its function (a tenth of the default Regional Lambda concurrency
   * of 1,000, which every function of the account shares) can serve while the stream pushes back
   * and each request waits out the policy's retry budget: `rateLimit` 100 / retry budget in
   * seconds (20 for rejectWith429's default 5 s, 50 for sampleOrShed's 2 s) and `burstLimit` 100.
   * The stream itself takes more (a new on-demand stream 4,000 records per second, a provisioned
   * one 1,000 per shard), so it is the shared function capacity that binds. With
   * `queueAndSlowAccept`, whose senders never redeliver, a 429 would lose the event: the path
   * gets the whole stage throttle (100 and 200 by default), and the spill queue takes what the
   * stream cannot.
   * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html
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
   * Validate each event against a pinned JSON Schema, compiled at synth time. Strict answers 400
   * with the failing path; quarantine sends invalid events to `quarantineStream` with the reason,
   * counts them (`metricQuarantined()`) and raises an alarm, while valid events go on.
   *
   * @default - events are not validated against a schema
   */
  readonly payloadValidation?: PayloadValidation;

  /**
   * Where quarantined events go, with `payloadValidation` in quarantine mode.
   *
   * @default - a new on-demand stream, encrypted at rest, when quarantine mode needs one
   */
  readonly quarantineStream?: kinesis.IStream;

  /**
   * Where events too large for a Kinesis record (1 MiB) go, and files uploaded as
   * `multipart/form-data`; the record carries a `payloadRef` instead of the bytes.
   *
   * @default - no claim check: such events are answered 413, and multipart bodies 415
   */
  readonly claimCheck?: ClaimCheck;

  /**
   * Limits of `multipart/form-data` bodies. Multipart bodies are accepted only with a
   * `claimCheck`, where their files go.
   *
   * @default - the defaults of MultipartOptions, when claimCheck is set
   */
  readonly multipart?: MultipartOptions;

  /**
   * Drop repeated deliveries of an event: the first is written, repeats are answered 202.
   *
   * @default - no deduplication: a sender's retry writes the event again
   */
  readonly deduplication?: Deduplication;

  /**
   * The name written into every record's `source` field.
   *
   * @default - the construct's id
   */
  readonly sourceName?: string;

  /**
   * Where each event's id comes from. It is the dedup key and, by default, the partition key.
   *
   * @default - the preset's (Stripe: the event's `id`; GitHub: `X-GitHub-Delivery`), or else a
   * SHA-256 of the source name and the event's bytes
   */
  readonly eventId?: EventField;

  /**
   * Where each event's type comes from.
   *
   * @default - the preset's (Stripe: `type`; GitHub: `X-GitHub-Event`), or else none
   */
  readonly eventType?: EventField;

  /**
   * Where each event's time comes from: Unix seconds or milliseconds, or an ISO 8601 string.
   *
   * @default - the preset's (Stripe: `created`), or else none
   */
  readonly eventTime?: EventField;

  /**
   * Where each record's partition key comes from. Records with the same key keep their order in
   * the stream. An event without this field falls back to its event id.
   *
   * @default - the event id
   */
  readonly partitionKey?: EventField;

  /**
   * Event types to keep. Events of other types (or with no type) are acknowledged with 202 and
   * counted as `ignored`, but not written.
   *
   * @default - every type is kept
   */
  readonly allowedEventTypes?: string[];

  /**
   * Send events of some types to other streams, such as Segment's `track`, `identify` and `page`
   * to typed streams. The first route that lists an event's type takes it; other events go to
   * `stream`.
   *
   * @default - every event goes to `stream`
   */
  readonly routes?: EventRoute[];

  /**
   * JSON pointers into each event, such as `/data/object/customer_email`, whose values are
   * scrubbed from every log line of the request. The handler logs no payload by design; this also
   * keeps those values out of anything that quotes them anyway, such as an unexpected error's
   * message. Values shorter than 4 characters are left alone.
   *
   * @default - none
   */
  readonly redactPaths?: string[];

  /**
   * Request headers copied into each record's `headers`. Credentials and signatures
   * (`Authorization`, `Cookie`, `Stripe-Signature`, `X-Hub-Signature-256`, ...) are never copied,
   * and naming one fails synthesis.
   *
   * @default - the preset's (GitHub: its `X-GitHub-*` headers and `User-Agent`)
   */
  readonly forwardedHeaders?: string[];

  /**
   * The largest body accepted; larger ones get 413. At most 4 MiB, which base64-encoded still
   * fits Lambda's 6 MB synchronous payload.
   *
   * @default Size.mebibytes(1)
   */
  readonly maxBodySize?: Size;

  /**
   * The most events one JSON array batch may hold; larger batches get 413.
   *
   * @default 5000
   */
  readonly maxBatchEvents?: number;

  /**
   * What happens when the stream throttles or fails.
   *
   * @default BackpressurePolicy.rejectWith429()
   */
  readonly backpressure?: BackpressurePolicy;

  /**
   * How long the handler caches the signing secret before reading it again.
   * Between 1 second and 1 hour.
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
   * How long the handler's logs and the API's access logs are kept.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;


/**
 * A webhook endpoint that writes every verified event to a Kinesis data stream.
 *
 * It creates a regional REST API with one POST path, an ingest Lambda function and, unless one is
 * passed in, an encrypted stream. The function reads the body as the exact bytes sent (the API
 * treats every media type as binary), authenticates it, parses it (a JSON object is one event, a
 * JSON array is a batch), wraps each event in an envelope and writes the records with PutRecords.
 * It answers 202 only once every record of the request is in the stream.
 *
 * @example
 * const secret = secretsmanager.Secret.fromSecretNameV2(this, 'StripeSecret', 'stripe/webhook');
 * const source = new WebhookStreamSource(this, 'Stripe', {
 *   auth: WebhookAuth.stripe(secret),
 *   path: 'stripe',
 * });
 * new CfnOutput(this, 'StripeWebhookUrl', { value: source.webhookUrl });
 */
export class WebhookStreamSource extends Construct {
  /** The stream that receives the records. */
  public readonly stream: kinesis.IStream;

  /** The gateway whose path receives the webhooks. */
  public readonly gateway: WebhookGateway;

  /** The table that remembers delivered event ids, with deduplication on. */
  public readonly dedupTable?: dynamodb.ITable;

  /** The stream that receives quarantined events, with payload validation in quarantine mode. */
  public readonly quarantineStream?: kinesis.IStream;

  /** The alarm that fires when any event is quarantined, with quarantine mode on. */
  public readonly quarantineAlarm?: cloudwatch.Alarm;

  /** The alarm that fires when the share shed exceeds the loss budget, with sample-or-shed. */
  public readonly lossBudgetAlarm?: cloudwatch.Alarm;

  /** The FIFO queue that takes what the stream did not, with queue-and-slow-accept. */
  public readonly spillQueue?: sqs.IQueue;

  /** Where poison spilled messages end, with queue-and-slow-accept. */
  public readonly spillDeadLetterQueue?: sqs.IQueue;

  /** The function that moves spilled records into the stream, with queue-and-slow-accept. */
  public readonly drainFunction?: lambda.IFunction;

  /** The alarms on the spill queue's depth and oldest message, and on the dead-letter queue. */
  public readonly spillAlarms: cloudwatch.Alarm[] = [];

  /** The bucket that receives oversize payloads and uploaded files, with a claim check. */
  public readonly payloadBucket?: s3.IBucket;

  /** The function that verifies, parses and writes each request. */
  public readonly ingestFunction: lambda.IFunction;

  /**
   * The full URL that senders POST to: `https://<custom domain>/<path>` when the gateway has a custom
   * domain, else the execute-api URL of the gateway's stage and the path. A deploy-time value: to
   * hand it over, put it in the stack's outputs, such as
   * `new CfnOutput(this, 'StripeWebhookUrl', { value: source.webhookUrl })`.
   */
  public readonly webhookUrl: string;

  /** The path's own method throttle on the gateway's stage: what was given, or the default. */
  public readonly webhookThrottle: apigw.ThrottleSettings;

  /** The name in every record's `source`, and the `service` dimension of its metrics. */
  public readonly sourceName: string;

  /** Where the claim check writes, with one. */
  private readonly payloadPrefix?: string;

  constructor(scope: Construct, id: string, props: WebhookStreamSourceProps) {
    super(scope, id);
    const owner = `WebhookStreamSource '${this.node.path}'`;

    // Validate everything before building anything.
    const auth = props.auth._bind(owner);
    // Senders that never redeliver a failed delivery (GitHub) get the queue; the rest are asked to retry.
    const defaultPolicy = auth.redelivers === false ? BackpressurePolicy.queueAndSlowAccept() : BackpressurePolicy.rejectWith429();
    const backpressureBinding = (props.backpressure ?? defaultPolicy)._bind(owner);
    let backpressure = backpressureBinding.config;
    const webhookPath = props.path ?? 'webhook';
    if (!Token.isUnresolved(webhookPath) && !WEBHOOK_PATH.test(webhookPath)) {
      throw new Error(`${owner}: path must be one or more URL-safe segments separated by '/', such as 'stripe' or 'hooks/github', got '${webhookPath}'`);
    }
    checkMutualTls(this, owner, auth, props.gateway);
    const maxBodySize = props.maxBodySize ?? Size.mebibytes(1);
    const maxBodyBytes = maxBodySize.toBytes();
    if (!Token.isUnresolved(maxBodyBytes) && (maxBodyBytes < 1 || maxBodyBytes > MAX_BODY_BYTES)) {
      throw new Error(`${owner}: maxBodySize must be between 1 byte and 4 MiB (Lambda's 6 MB payload limit after base64), got ${maxBodyBytes} bytes`);
    }
    const maxBatchEvents = props.maxBatchEvents ?? 5000;
    if (!Token.isUnresolved(maxBatchEvents) && (!Number.isInteger(maxBatchEvents) || maxBatchEvents < 1 || maxBatchEvents > 50_000)) {
      throw new Error(`${owner}: maxBatchEvents must be a whole number between 1 and 50000, got ${maxBatchEvents}`);
    }
    const { secretCacheTtlSeconds, previousSecretGraceSeconds } = secretSettings(owner, props);
    const forwardedHeaders = (props.forwardedHeaders ?? [...auth.forwardedHeaders]).map(allowlistHeaderName);
    const credentialHeader = auth.requiredHeader === undefined ? undefined : allowlistHeaderName(auth.requiredHeader);
    const forwardedRefused = headerAllowlistProblem(forwardedHeaders, credentialHeader);
    if (forwardedRefused !== undefined) throw new Error(`${owner}: forwardedHeaders ${forwardedRefused}; remove them`);
    if (props.allowedEventTypes !== undefined && props.allowedEventTypes.length === 0) {
      throw new Error(`${owner}: allowedEventTypes is empty, so every event would be dropped; omit it to keep every type`);
    }
    const badPointers = (props.redactPaths ?? []).filter((p) => !Token.isUnresolved(p) && !p.startsWith('/'));
    if (badPointers.length > 0) {
      throw new Error(`${owner}: redactPaths must be JSON pointers such as '/data/object/customer_email', got '${badPointers.join("', '")}'`);
    }
    const routes = props.routes ?? [];
    routes.forEach((route, i) => {
      if (route.eventTypes.length === 0) {
        throw new Error(`${owner}: routes[${i}].eventTypes is empty, so the route would take nothing; list at least one type`);
      }
    });
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const writeDeadlineSeconds = writeDeadlineMsFor(backpressure) / 1000;
    const functionOptions = backpressure.kind === 'queueAndSlowAccept'
      ? bindFunctionOptions(owner, props, HANDLER_ANSWER_SECONDS.ingestWithSpill, `with queueAndSlowAccept, the write to the stream stops at ${writeDeadlineSeconds} s and the spill to the queue 5 s later, each with one call in flight`)
      : bindFunctionOptions(owner, props, HANDLER_ANSWER_SECONDS.ingest, `no write to the stream starts ${writeDeadlineSeconds} s into a request, plus the call in flight`);
    const validation = props.payloadValidation?._bind(owner);
    if (props.quarantineStream !== undefined && validation?.config.mode !== 'quarantine') {
      throw new Error(`${owner}: quarantineStream is only used with payloadValidation in quarantine mode, such as PayloadValidation.quarantine(schema)`);
    }
    if (props.multipart !== undefined && props.claimCheck === undefined) {
      throw new Error(`${owner}: multipart needs a claimCheck, where uploaded files go; add claimCheck: ClaimCheck.s3()`);
    }
    const multipartLimits = props.claimCheck === undefined ? undefined : {
      maxFiles: props.multipart?.maxFiles ?? 10,
      maxFields: props.multipart?.maxFields ?? 100,
      maxFieldBytes: (props.multipart?.maxFieldSize ?? Size.kibibytes(64)).toBytes(),
      maxFileBytes: props.multipart?.maxFileSize?.toBytes() ?? maxBodyBytes,
    };
    if (multipartLimits !== undefined) {
      for (const [name, value] of Object.entries(multipartLimits)) {
        const limitRefused = Token.isUnresolved(value) ? undefined : multipartLimitProblem(value);
        if (limitRefused !== undefined) throw new Error(`${owner}: multipart ${name} ${limitRefused}, got ${value}`);
      }
      const fileSizeRefused = Token.isUnresolved(multipartLimits.maxFileBytes) || Token.isUnresolved(maxBodyBytes)
        ? undefined
        : multipartFileSizeProblem(multipartLimits.maxFileBytes, maxBodyBytes);
      if (fileSizeRefused !== undefined) throw new Error(`${owner}: multipart maxFileSize ${fileSizeRefused}; lower it or raise maxBodySize`);
    }
    if (props.claimCheck === undefined && !Token.isUnresolved(maxBodyBytes) && maxBodyBytes > 1024 * 1024) {
      Annotations.of(this).addWarningV2('cdk-webhook-ingress:bodyLargerThanRecord', `${owner}: maxBodySize is ${maxBodyBytes} bytes, but without a claimCheck one event must fit in a 1 MiB Kinesis record; a larger single event gets 413. Add claimCheck: ClaimCheck.s3() to accept it.`);
    }
    const claimCheck = props.claimCheck?._bind(this, owner);
    this.payloadBucket = claimCheck?.bucket;
    this.payloadPrefix = claimCheck?.prefix;
    const { throttle, ownGatewayThrottle } = bindPathLimits(this, owner, props, (stage) => sourceThrottleDefault(backpressure, stage, functionOptions.reservedConcurrentExecutions));
    warnAboveReservedConcurrency(this, owner, throttle, functionOptions.reservedConcurrentExecutions);
    const dedup = props.deduplication?._bind(this, owner);
    this.dedupTable = dedup?.table;
    // A gateway of its own takes whatever the path's throttle needs.
    this.gateway = props.gateway ?? new WebhookGateway(this, 'Gateway', {
      logRetention,
      throttle: ownGatewayThrottle,
    });
    this.webhookThrottle = throttle;

    // The stream, encrypted at rest with the AWS managed key unless one is passed in.
    const stream = props.stream ?? new kinesis.Stream(this, 'Stream', {
      streamMode: kinesis.StreamMode.ON_DEMAND,
      encryption: kinesis.StreamEncryption.MANAGED,
    });
    this.stream = stream;
    let quarantineStream: kinesis.IStream | undefined;
    if (validation?.config.mode === 'quarantine') {
      quarantineStream = props.quarantineStream ?? new kinesis.Stream(this, 'QuarantineStream', {
        streamMode: kinesis.StreamMode.ON_DEMAND,
        encryption: kinesis.StreamEncryption.MANAGED,
        retentionPeriod: Duration.days(7),
      });
    }
    this.quarantineStream = quarantineStream;

    let spill: SpillQueue | undefined;
    if (backpressureBinding.spill !== undefined && backpressure.kind === 'queueAndSlowAccept') {
      spill = new SpillQueue(this, 'Spill', {
        streams: [stream, ...routes.map((r) => r.stream), ...(quarantineStream ? [quarantineStream] : [])],
        serviceName: props.sourceName ?? id,
        logRetention,
        depthAlarmThreshold: backpressureBinding.spill.depthAlarmThreshold,
        ageAlarmThreshold: backpressureBinding.spill.ageAlarmThreshold,
      });
      backpressure = { ...backpressure, queueUrl: spill.queue.queueUrl };
      this.spillQueue = spill.queue;
      this.spillDeadLetterQueue = spill.deadLetterQueue;
      this.drainFunction = spill.drainFunction;
      this.spillAlarms.push(spill.depthAlarm, spill.ageAlarm, spill.deadLetterAlarm);
    }

    const config: IngestConfig = {
      version: INGEST_CONFIG_VERSION,
      source: props.sourceName ?? id,
      streamName: stream.streamName,
      auth: handlerAuthConfig(auth, this.gateway._customDomainUrlForPath(webhookPath)),
      headerAliases: auth.headerAliases,
      challenge: auth.challenge,
      secretCacheTtlSeconds,
      previousSecretGraceSeconds,
      metadata: {
        id: props.eventId?._toConfig() ?? auth.metadata.id,
        type: props.eventType?._toConfig() ?? auth.metadata.type,
        timestamp: props.eventTime?._toConfig() ?? auth.metadata.timestamp,
        account: auth.metadata.account,
      },
      partitionKey: props.partitionKey?._toConfig(),
      redactPaths: props.redactPaths === undefined ? undefined : [...props.redactPaths],
      routes: routes.length === 0 ? undefined : routes.map((r) => ({ eventTypes: [...r.eventTypes], streamName: r.stream.streamName })),
      allowedEventTypes: props.allowedEventTypes,
      headerAllowlist: forwardedHeaders,
      maxBodyBytes,
      maxBatchRecords: maxBatchEvents,
      backpressure,
      dedup: dedup === undefined ? undefined : { tableName: dedup.table.tableName, ttlSeconds: dedup.ttlSeconds, leaseSeconds: dedup.leaseSeconds },
      payloadValidation: validation?.config,
      quarantineStreamName: quarantineStream?.streamName,
      claimCheck: claimCheck === undefined ? undefined : {
        bucket: claimCheck.bucket.bucketName,
        prefix: claimCheck.prefix,
        ...(claimCheck.bucket.encryptionKey === undefined ? {} : { kmsKeyId: claimCheck.bucket.encryptionKey.keyArn }),
      },
      multipart: multipartLimits === undefined ? undefined : {
        maxParts: multipartLimits.maxFiles + multipartLimits.maxFields,
        maxFields: multipartLimits.maxFields,
        maxFieldBytes: multipartLimits.maxFieldBytes,
        maxFiles: multipartLimits.maxFiles,
        maxFileBytes: multipartLimits.maxFileBytes,
        maxTotalFileBytes: maxBodyBytes,
      },
    };

    const fn = newHandlerFunction(this, {
      name: 'Ingest',
      description: `Verifies ${auth.preset} webhooks and writes them to Kinesis (${this.node.path})`,
      // With pinned schemas, their compiled module ships beside the prebundled handler.
      code: lambda.Code.fromAsset(validation === undefined ? handlerDir('ingest') : stageHandlerAsset(handlerDir('ingest'), validation.files)),
      config,
      serviceName: config.source,
      logRetention,
      ...functionOptions,
    });
    this.ingestFunction = fn;

    // Least privilege: put records on this stream, read this secret, nothing else.
    for (const target of [stream, ...routes.map((r) => r.stream), ...(quarantineStream ? [quarantineStream] : [])]) {
      target.grant(fn, 'kinesis:PutRecords');
      target.encryptionKey?.grant(fn, 'kms:GenerateDataKey');
    }
    spill?.grantSpill(fn);
    if (claimCheck !== undefined) {
      iam.Grant.addToPrincipal({ grantee: fn, actions: ['s3:PutObject'], resourceArns: [claimCheck.bucket.arnForObjects(`${claimCheck.prefix}*`)] });
      claimCheck.bucket.encryptionKey?.grant(fn, 'kms:GenerateDataKey');
    }
    if (dedup !== undefined) {
      dedup.table.grant(fn, 'dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem');
    }
    if (auth.secret !== undefined) grantSigningSecretRead(fn, auth.secret);

    // The path on the gateway. API Gateway itself turns away requests without the credential
    // header, before any Lambda runs, with the same 401 JSON shape the handler uses.
    this.gateway._addWebhookRoute(webhookPath, fn, { requiredHeader: auth.requiredHeader, apiKeyRequired: props.apiKeyRequired, throttle, wafRateLimit: props.wafRateLimit });
    this.webhookUrl = this.gateway.urlForPath(webhookPath);
    this.sourceName = config.source;

    if (backpressureBinding.lossBudget !== undefined) {
      const loss = new cloudwatch.MathExpression({
        expression: 'IF(written + shed > 0, shed / (written + shed), 0)',
        usingMetrics: { written: this.metricWrittenEvents(), shed: this.metricShedEvents() },
        label: 'Share of events shed',
        period: Duration.minutes(5),
      });
      this.lossBudgetAlarm = loss.createAlarm(this, 'LossBudgetAlarm', {
        alarmDescription: `${this.node.path} shed more than its loss budget (${backpressureBinding.lossBudget}) of events over 5 minutes`,
        threshold: backpressureBinding.lossBudget,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    if (quarantineStream !== undefined) {
      this.quarantineAlarm = this.metricQuarantined().createAlarm(this, 'QuarantineAlarm', {
        alarmDescription: `Events of ${this.node.path} failed their pinned schema and went to the quarantine stream`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
  }

  /**
   * Lets a consumer read this source's events.
   *
   * It may read the stream's records (the reads of `kinesis.IStream.grantRead`, with
   * `kms:Decrypt` on its key when you passed a stream encrypted with a customer-managed key) and,
   * with a claim check, the payloads and files its records point to (`s3:GetObject` under the
   * claim check's prefix, with `kms:Decrypt` on the bucket's key). The streams of `routes` and the
   * quarantine stream are not included: grant them with their own `grantRead`.
   *
   * @param grantee the consumer, such as a Lambda function or a role of a Flink application
   */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    let grant = this.stream.grantRead(grantee);
    if (this.payloadBucket !== undefined) {
      grant = grant.combine(iam.Grant.addToPrincipalOrResource({
        grantee,
        actions: ['s3:GetObject'],
        resourceArns: [this.payloadBucket.arnForObjects(`${this.payloadPrefix ?? ''}*`)],
        resource: this.payloadBucket,
      }));
      const key = this.payloadBucket.encryptionKey;
      if (key !== undefined) grant = grant.combine(key.grantDecrypt(grantee));
    }
    return grant;
  }

  /**
   * The number of events quarantined for failing their pinned schema.
   *
   * Statistic: Sum. Period: 5 minutes.
   */
  public metricQuarantined(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.ingressMetric('QuarantinedEvents', props);
  }

  /**
   * Events written to the stream, reported by sources with the sample-or-shed policy.
   *
   * Statistic: Sum. Period: 5 minutes.
   */
  public metricWrittenEvents(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.ingressMetric('WrittenEvents', props);
  }

  /**
   * Events shed on purpose by the sample-or-shed policy.
   *
   * Statistic: Sum. Period: 5 minutes.
   */
  public metricShedEvents(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.ingressMetric('ShedEvents', props);
  }

  /**
   * Requests verified with a secret that is not the current one: the pending value (senders that
   * moved early) or the previous one, within its grace period (senders not yet moved). After a
   * rotation finishes, this falling to zero is the cutover: every sender signs with the new value.
   *
   * Statistic: Sum. Period: 5 minutes.
   */
  public metricNonCurrentSecretRequests(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return handlerMetric('NonCurrentSecretRequests', this.sourceName, props);
  }

  private ingressMetric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return handlerMetric(metricName, this.sourceName, props);
  }
}
