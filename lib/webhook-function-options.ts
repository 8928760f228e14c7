import type { Duration, Size } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * How the function behind a webhook path is sized and observed. Shared by the props of
 * {@link WebhookStreamSource} and {@link WebhookTrigger}; the function itself is their
 * `ingestFunction` and `triggerFunction`.
 */
export interface WebhookFunctionOptions {
  /**
   * The function's memory, in whole mebibytes from 128 MiB to 10,240 MiB. Lambda gives a
   * function CPU in proportion to its memory, so more memory also verifies, parses and
   * serializes large batches faster.
   *
   * @default Size.mebibytes(256)
   * @see https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
   */
  readonly memorySize?: Size;

  /**
   * How long one request may run before Lambda ends it, in whole seconds. At most 28 seconds,
   * under API Gateway's 29-second integration timeout, so that the function answers before API
   * Gateway gives up. At least the handler's own deadline for a request its downstream service is
   * slow to take, so that the handler's 429 or 503 (or, with `queueAndSlowAccept`, its spill to
   * the queue) comes before Lambda ends it; otherwise the sender would get API Gateway's 502, and
   * a sender that never redelivers would lose the event. That deadline is fixed in the handler:
   * 26 seconds for a stream source (27 with `queueAndSlowAccept`), and 26 seconds for a trigger
   * (StartExecution, then DescribeExecution for a retried delivery).
   * Reading the signing secret, at most once per `secretCacheTtl`, comes on top.
   *
   * @default Duration.seconds(28)
   * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
   */
  readonly timeout?: Duration;

  /**
   * Concurrent executions reserved for the function: it always gets them, and never more. At
   * least 1. A request beyond them is not queued: API Gateway answers it with a 500. So the
   * path's default `throttle` is lowered to fit (its `burstLimit` at most this, its `rateLimit`
   * what this many executions serve while the stream pushes back), and a `throttle` you give whose
   * `burstLimit` is higher is warned about at synth.
   *
   * @default - no reservation: the function shares the account's unreserved concurrency
   * @see https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
   */
  readonly reservedConcurrentExecutions?: number;

  /**
   * AWS X-Ray tracing of the function. `lambda.Tracing.ACTIVE` samples and traces requests, and
   * grants the function `xray:PutTraceSegments` and `xray:PutTelemetryRecords` (which IAM cannot
   * scope to a resource). Turn on the gateway's `tracing` too, to see API Gateway in the trace.
   *
   * @default lambda.Tracing.DISABLED
   * @see https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html
   */
  readonly tracing?: lambda.Tracing;

  /**
   * CloudWatch Lambda Insights: adds the Insights extension layer of this version (one that is
   * built for arm64, on which the function runs) and the AWS managed policy
   * `CloudWatchLambdaInsightsExecutionRolePolicy` to the function's role, for system-level metrics
   * such as memory use and cold starts. Billed as CloudWatch metrics and logs.
   *
   * @default - no Lambda Insights
   * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Lambda-Insights.html
   */
  readonly insightsVersion?: lambda.LambdaInsightsVersion;
}
