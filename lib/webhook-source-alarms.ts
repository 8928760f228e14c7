import { Annotations, Duration, Token, Tokenization } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import type { WebhookStreamSource } from './webhook-stream-source';

/** Properties of {@link WebhookSourceAlarms}. */
export interface WebhookSourceAlarmsProps {
  /** The source to watch: its stream, its ingest function and its gateway's API stage. */
  readonly source: WebhookStreamSource;

  /**
   * What to do when an alarm goes into ALARM, such as `new cw_actions.SnsAction(topic)`. The
   * actions are added to every alarm in `allAlarms`, the source's own alarms included.
   *
   * @default - no actions: the alarms only change state, which a dashboard or
   * `alarm.addAlarmAction()` can pick up
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];

  /**
   * What to do when an alarm goes back to OK, such as resolving the page it raised. Added to
   * every alarm in `allAlarms`.
   *
   * @default - no actions
   */
  readonly okActions?: cloudwatch.IAlarmAction[];

  /**
   * Whether to create the 4XX and 5XX rate alarms of the source's gateway. API Gateway counts
   * requests and errors per API and stage, not per path, so on a gateway shared by several
   * sources those alarms cover every path on it and would be the same for each source: create
   * them for one source of the gateway and set this to false for the others.
   *
   * @default true
   */
  readonly gatewayAlarms?: boolean;

  /**
   * Records the stream throttled (`WriteProvisionedThroughputExceeded`, Sum) in a 5-minute
   * period for that period to count as breaching. The alarm fires after 3 breaching periods in a
   * row. A whole number of at least 1.
   *
   * Any throttled record counts, but only throttling that lasts 15 minutes pages: the handler
   * retries throttled records within its retry budget, and an on-demand stream takes up to 15
   * minutes to scale past twice its previous peak. Throttling that outlasts that means the
   * stream is too small (provisioned: add shards) or a hot partition key, and senders are being
   * answered 429 (or events spilled or shed, by the backpressure policy).
   *
   * @default 1
   */
  readonly throttledRecordsThreshold?: number;

  /**
   * Records a PutRecords call rejected for internal failures (`PutRecords.FailedRecords`, Sum)
   * in a 5-minute period for that period to count as breaching. The alarm fires after 3
   * breaching periods in a row. A whole number of at least 1.
   *
   * Occasional internal failures are expected and retried by the handler; failures in every
   * period for 15 minutes point at Kinesis or the stream's key, not at chance.
   *
   * @default 1
   */
  readonly failedRecordsThreshold?: number;

  /**
   * Errors of the ingest function (Lambda `Errors`, Sum) in 5 minutes that fire the alarm. A
   * whole number of at least 1.
   *
   * The handler turns every error it expects into an HTTP answer, so a Lambda error is a crash,
   * a timeout or running out of memory: a bug, and the sender got a 5XX from API Gateway.
   *
   * @default 1
   */
  readonly ingestErrorsThreshold?: number;

  /**
   * Throttled invocations of the ingest function (Lambda `Throttles`, Sum) in 5 minutes that
   * fire the alarm. A whole number of at least 1.
   *
   * A throttled invocation never reaches the handler, so its sender gets an error from API
   * Gateway instead of the handler's answer; any throttle means the account's (or the
   * function's reserved) concurrency is used up.
   *
   * @default 1
   */
  readonly ingestThrottlesThreshold?: number;

  /**
   * The share of the gateway's requests answered 4XX (`4XXError / Count`) over `rateWindow`
   * above which the alarm fires, from 0 (any 4XX) to below 1.
   *
   * Some 4XX are normal on a public endpoint: scanners (403), bad signatures and replays (401),
   * malformed or too large bodies (400, 413, 415). A fifth of all requests is not: it is a
   * secret that does not match the sender's (every request 401), a sender sending what the
   * source rejects, or throttling (429, from the stage, a sender's usage plan or the
   * backpressure policy).
   *
   * @default 0.2
   */
  readonly clientErrorRateThreshold?: number;

  /**
   * The share of the gateway's requests answered 5XX (`5XXError / Count`) over `rateWindow`
   * above which the alarm fires, from 0 (any 5XX) to below 1.
   *
   * The handler answers no 5XX for bad input, only 503 when it cannot read its secret, so 5XX
   * mean failed deliveries that the sender must retry, and some senders (GitHub) never retry on
   * their own. More than 1 in 100 is an outage. From 100 requests in the window up, a single 5XX
   * stays at or below it; between `minimumRequests` and 100 requests, a single 5XX fires the alarm,
   * which is deliberate for deliveries that may not be sent again.
   *
   * @default 0.01
   */
  readonly serverErrorRateThreshold?: number;

  /**
   * The fewest requests in `rateWindow` for the 4XX and 5XX rates to be judged at all; with fewer,
   * the rates count as 0. A whole number of at least 1.
   *
   * A rate of a handful of requests is noise: one failed request at night is a rate of 100%. At
   * twenty requests, the default 4XX alarm needs five failed requests, not one.
   *
   * @default 20
   */
  readonly minimumRequests?: number;

  /**
   * The window over which the 4XX and 5XX rates are computed: the period of their alarms, which
   * fire after one breaching window. Whole minutes, from 1 minute to 1 day (CloudWatch's longest
   * alarm evaluation range).
   *
   * Fifteen minutes holds enough requests for a rate to mean something at low traffic, and is
   * short enough to catch a bad deployment or a rotated secret the same hour.
   *
   * @default Duration.minutes(15)
   */
  readonly rateWindow?: Duration;

  /**
   * The age of the oldest record read (`GetRecords.IteratorAgeMilliseconds`, Maximum over 5
   * minutes) above which the consumers are falling behind. From 1 second to 365 days (Kinesis's
   * longest retention).
   *
   * Fifteen minutes behind is far beyond a healthy consumer's batching delay, and leaves almost
   * all of the default 24-hour retention to catch up before records expire.
   *
   * @default Duration.minutes(15)
   */
  readonly maxIteratorAge?: Duration;
}

/**
 * Alarms on the health of one {@link WebhookStreamSource}: write throttles and failed records on
 * its stream, errors and throttles of its ingest function, 4XX and 5XX rates of its gateway, and
 * the age of what its consumers read.
 *
 * The stream alarms watch `source.stream` as a whole, so a stream shared with other producers
 * counts their throttles too; streams of `routes` are not watched. The 4XX and 5XX rates are per
 * API and stage (API Gateway publishes no per-path metrics without detailed metrics), so on a
 * shared gateway they cover every path on it: see `gatewayAlarms`.
 *
 * Every alarm counts missing data as healthy (a quiet source has no throttles, errors or
 * requests), except the iterator age alarm: a consumer that stops reading stops the metric, so
 * that alarm shows INSUFFICIENT_DATA rather than OK when nothing reads the stream.
 *
 * @example
 * declare const source: WebhookStreamSource;
 * declare const topic: sns.ITopic;
 * new WebhookSourceAlarms(this, 'StripeAlarms', {
 *   source,
 *   alarmActions: [new cw_actions.SnsAction(topic)],
 * });
 */
export class WebhookSourceAlarms extends Construct {
  /** The source these alarms watch. */
  public readonly source: WebhookStreamSource;

  /**
   * Fires when the stream throttles writes (`AWS/Kinesis` `WriteProvisionedThroughputExceeded`,
   * from PutRecord and PutRecords of every producer on the stream) for 15 minutes: Sum over
   * 5 minutes at or above `throttledRecordsThreshold` in 3 periods in a row.
   */
  public readonly writeThrottlesAlarm: cloudwatch.Alarm;

  /**
   * Fires when PutRecords calls keep losing records to internal failures (`AWS/Kinesis`
   * `PutRecords.FailedRecords`): Sum over 5 minutes at or above `failedRecordsThreshold` in 3
   * periods in a row.
   */
  public readonly failedRecordsAlarm: cloudwatch.Alarm;

  /**
   * Fires when the ingest function fails (`AWS/Lambda` `Errors`): Sum over 5 minutes at or above
   * `ingestErrorsThreshold`.
   */
  public readonly ingestErrorsAlarm: cloudwatch.Alarm;

  /**
   * Fires when the ingest function is throttled (`AWS/Lambda` `Throttles`): Sum over 5 minutes at
   * or above `ingestThrottlesThreshold`.
   */
  public readonly ingestThrottlesAlarm: cloudwatch.Alarm;

  /**
   * Fires when the share of 4XX answers of the gateway's API stage goes above
   * `clientErrorRateThreshold` over `rateWindow`, with at least `minimumRequests` requests. The
   * rate covers every path on the gateway. Only with `gatewayAlarms`.
   */
  public readonly clientErrorRateAlarm?: cloudwatch.Alarm;

  /**
   * Fires when the share of 5XX answers of the gateway's API stage goes above
   * `serverErrorRateThreshold` over `rateWindow`, with at least `minimumRequests` requests. The
   * rate covers every path on the gateway. Only with `gatewayAlarms`.
   */
  public readonly serverErrorRateAlarm?: cloudwatch.Alarm;

  /**
   * Fires when consumers fall behind (`AWS/Kinesis` `GetRecords.IteratorAgeMilliseconds`):
   * Maximum over 5 minutes above `maxIteratorAge`. Consumers using enhanced fan-out
   * (SubscribeToShard) do not show in this metric.
   */
  public readonly iteratorAgeAlarm: cloudwatch.Alarm;

  /**
   * Every alarm of the source: the alarms above and the source's own: `quarantineAlarm`,
   * `lossBudgetAlarm` and `spillAlarms`, when its settings create them.
   */
  public readonly allAlarms: cloudwatch.IAlarm[];

  constructor(scope: Construct, id: string, props: WebhookSourceAlarmsProps) {
    super(scope, id);
    const owner = `WebhookSourceAlarms '${this.node.path}'`;

    // Validate everything before building anything.
    const throttledRecords = wholeNumber(owner, 'throttledRecordsThreshold', props.throttledRecordsThreshold ?? 1, 'records');
    const failedRecords = wholeNumber(owner, 'failedRecordsThreshold', props.failedRecordsThreshold ?? 1, 'records');
    const ingestErrors = wholeNumber(owner, 'ingestErrorsThreshold', props.ingestErrorsThreshold ?? 1, 'errors');
    const ingestThrottles = wholeNumber(owner, 'ingestThrottlesThreshold', props.ingestThrottlesThreshold ?? 1, 'throttles');
    const clientErrorRate = fraction(owner, 'clientErrorRateThreshold', props.clientErrorRateThreshold ?? 0.2, '0.2 for 20%');
    const serverErrorRate = fraction(owner, 'serverErrorRateThreshold', props.serverErrorRateThreshold ?? 0.01, '0.01 for 1%');
    const minimumRequests = wholeNumber(owner, 'minimumRequests', props.minimumRequests ?? 20, 'requests');
    const rateWindow = props.rateWindow ?? Duration.minutes(15);
    const rateWindowSeconds = rateWindow.toSeconds({ integral: false });
    if (!Token.isUnresolved(rateWindowSeconds) && (rateWindowSeconds < 60 || rateWindowSeconds > 86_400 || rateWindowSeconds % 60 !== 0)) {
      throw new Error(`${owner}: rateWindow must be whole minutes from 1 minute to 1 day, got ${rateWindow.toHumanString()}`);
    }
    const maxIteratorAge = props.maxIteratorAge ?? Duration.minutes(15);
    const maxIteratorAgeMs = maxIteratorAge.toMilliseconds({ integral: false });
    if (!Token.isUnresolved(maxIteratorAgeMs) && (maxIteratorAgeMs < 1000 || maxIteratorAgeMs > Duration.days(365).toMilliseconds())) {
      throw new Error(`${owner}: maxIteratorAge must be from 1 second to 365 days (the longest a Kinesis stream keeps records), got ${maxIteratorAge.toHumanString()}`);
    }
    const gatewayAlarms = props.gatewayAlarms ?? true;

    const source = props.source;
    this.source = source;
    const name = source.node.path;
    const stream = source.stream;
    const fn = source.ingestFunction;
    const period = Duration.minutes(5);

    this.writeThrottlesAlarm = new cloudwatch.Alarm(this, 'WriteThrottles', {
      alarmDescription: `The stream of webhook source ${name} has throttled writes for 15 minutes: senders are answered 429 (or events spilled or shed, by the backpressure policy). Add shards to a provisioned stream, or look for a hot partition key.`,
      metric: stream.metricWriteProvisionedThroughputExceeded({ statistic: cloudwatch.Stats.SUM, period }),
      threshold: throttledRecords,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    this.failedRecordsAlarm = new cloudwatch.Alarm(this, 'FailedRecords', {
      alarmDescription: `PutRecords calls to the stream of webhook source ${name} have failed records for 15 minutes, beyond what the handler's retries absorb. Check the Kinesis service health and the stream's KMS key.`,
      metric: stream.metricPutRecordsFailedRecords({ statistic: cloudwatch.Stats.SUM, period }),
      threshold: failedRecords,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    this.ingestErrorsAlarm = new cloudwatch.Alarm(this, 'IngestErrors', {
      alarmDescription: `The ingest function of webhook source ${name} failed (a crash, a timeout or out of memory), and its senders got a 5XX. Read the function's logs.`,
      metric: fn.metricErrors({ statistic: cloudwatch.Stats.SUM, period }),
      threshold: ingestErrors,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    this.ingestThrottlesAlarm = new cloudwatch.Alarm(this, 'IngestThrottles', {
      alarmDescription: `The ingest function of webhook source ${name} was throttled, so deliveries failed before the handler ran. Raise the account's Lambda concurrency or lower the gateway's throttling.`,
      metric: fn.metricThrottles({ statistic: cloudwatch.Stats.SUM, period }),
      threshold: ingestThrottles,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    if (gatewayAlarms) {
      const gateway = source.gateway;
      const requests = gateway.api.deploymentStage.metricCount({ statistic: cloudwatch.Stats.SUM, period: rateWindow });
      const atLeast = Tokenization.stringifyNumber(minimumRequests);
      const window = Token.isUnresolved(rateWindowSeconds) ? 'the rate window' : rateWindow.toHumanString();
      const percent = (rate: number) => (Token.isUnresolved(rate) ? 'the threshold' : `${+(rate * 100).toFixed(4)}%`);
      this.clientErrorRateAlarm = new cloudwatch.Alarm(this, 'ClientErrorRate', {
        alarmDescription: `More than ${percent(clientErrorRate)} of the requests to the gateway of webhook source ${name} (every path on it) were answered 4XX over ${window}. Look for 401 (a secret that does not match the sender's) and 429 (throttling) in the access logs.`,
        metric: new cloudwatch.MathExpression({
          expression: `IF(requests >= ${atLeast}, clientErrors / requests, 0)`,
          usingMetrics: {
            requests,
            clientErrors: gateway.metricClientError({ statistic: cloudwatch.Stats.SUM, period: rateWindow }),
          },
          period: rateWindow,
          label: '4XX rate',
        }),
        threshold: clientErrorRate,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      this.serverErrorRateAlarm = new cloudwatch.Alarm(this, 'ServerErrorRate', {
        alarmDescription: `More than ${percent(serverErrorRate)} of the requests to the gateway of webhook source ${name} (every path on it) were answered 5XX over ${window}: deliveries are failing. Check the ingest function's errors and throttles, and its 503s (Secrets Manager).`,
        metric: new cloudwatch.MathExpression({
          expression: `IF(requests >= ${atLeast}, serverErrors / requests, 0)`,
          usingMetrics: {
            requests,
            serverErrors: gateway.metricServerError({ statistic: cloudwatch.Stats.SUM, period: rateWindow }),
          },
          period: rateWindow,
          label: '5XX rate',
        }),
        threshold: serverErrorRate,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      this.warnOnSharedGateway(owner);
    }

    this.iteratorAgeAlarm = new cloudwatch.Alarm(this, 'IteratorAge', {
      alarmDescription: `Consumers of the stream of webhook source ${name} are falling behind: the records they read are older than ${Token.isUnresolved(maxIteratorAgeMs) ? 'maxIteratorAge' : maxIteratorAge.toHumanString()}. Scale or fix the consumers before records pass the stream's retention.`,
      metric: stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: cloudwatch.Stats.MAXIMUM, period }),
      threshold: maxIteratorAgeMs,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // No reader, no metric: show that as INSUFFICIENT_DATA, not as a healthy OK.
      treatMissingData: cloudwatch.TreatMissingData.MISSING,
    });

    const allAlarms: cloudwatch.Alarm[] = [
      this.writeThrottlesAlarm,
      this.failedRecordsAlarm,
      this.ingestErrorsAlarm,
      this.ingestThrottlesAlarm,
      ...(this.clientErrorRateAlarm ? [this.clientErrorRateAlarm] : []),
      ...(this.serverErrorRateAlarm ? [this.serverErrorRateAlarm] : []),
      this.iteratorAgeAlarm,
      ...(source.quarantineAlarm ? [source.quarantineAlarm] : []),
      ...(source.lossBudgetAlarm ? [source.lossBudgetAlarm] : []),
      ...source.spillAlarms,
    ];
    this.allAlarms = allAlarms;
    for (const alarm of allAlarms) {
      if (props.alarmActions && props.alarmActions.length > 0) alarm.addAlarmAction(...props.alarmActions);
      if (props.okActions && props.okActions.length > 0) alarm.addOkAction(...props.okActions);
    }
  }

  /** Warns when another source on the same gateway already has the gateway's rate alarms. */
  private warnOnSharedGateway(owner: string): void {
    const other = this.node.root.node.findAll().find((c) => c !== this
      && c instanceof WebhookSourceAlarms
      && c.source.gateway === this.source.gateway
      && c.clientErrorRateAlarm !== undefined);
    if (other !== undefined) {
      Annotations.of(this).addWarningV2(
        'cdk-webhook-ingress:duplicateGatewayAlarms',
        `${owner}: ${other.node.path} already has the 4XX and 5XX rate alarms of gateway ${this.source.gateway.node.path}, which cover every path on it; set gatewayAlarms: false here so one problem does not page twice`,
      );
    }
  }
}

/** Returns `value` when it is a whole number of at least 1 (or a token), else throws. */
function wholeNumber(owner: string, name: string, value: number, unit: string): number {
  if (!Token.isUnresolved(value) && (!Number.isInteger(value) || value < 1)) {
    throw new Error(`${owner}: ${name} must be a whole number of ${unit} of at least 1, got ${value}`);
  }
  return value;
}

/** Returns `value` when it is a fraction from 0 to below 1 (or a token), else throws. */
function fraction(owner: string, name: string, value: number, example: string): number {
  if (!Token.isUnresolved(value) && !(value >= 0 && value < 1)) {
    throw new Error(`${owner}: ${name} must be a fraction from 0 to below 1, such as ${example}, got ${value}`);
  }
  return value;
}
