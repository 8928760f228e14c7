import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Duration, Size, SizeRoundingBehavior, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { CONFIG_ENV_VAR } from '../../lambda/common/config-document';
import type { WebhookFunctionOptions } from '../webhook-function-options';

/**
 * The folder of a prebundled handler shipped with the package (`assets/<name>`, built by
 * `npm run bundle`): the same relative place in the source tree and in the package.
 */
export function handlerDir(name: string): string {
  const dir = path.join(__dirname, '..', '..', 'assets', name);
  if (!existsSync(path.join(dir, 'index.js'))) {
    throw new Error(`cdk-webhook-ingress: the ${name} handler bundle is missing at ${dir}; run 'npm run bundle'`);
  }
  return dir;
}

export interface HandlerFunctionProps {
  /** Names the role, the log group and the function, such as `Ingest`. */
  readonly name: string;
  readonly description: string;
  /** Defaults to the prebundled folder named after the handler. */
  readonly code: lambda.Code;
  /** The versioned configuration document, handed over in CONFIG_ENV_VAR. */
  readonly config: unknown;
  /** POWERTOOLS_SERVICE_NAME, and the `service` dimension of its metrics. */
  readonly serviceName: string;
  readonly logRetention: logs.RetentionDays;
  readonly timeout: Duration;
  /** @default 256 */
  readonly memoryMiB?: number;
  readonly reservedConcurrentExecutions?: number;
  readonly tracing?: lambda.Tracing;
  readonly insightsVersion?: lambda.LambdaInsightsVersion;
}

/**
 * A handler function as every construct of this library makes it: Node.js 22 on arm64, JSON logs
 * to a log group of its own, and a role of its own that may write those logs and nothing else yet,
 * so that each construct grants exactly what its handler needs and no managed policy is attached.
 */
export function newHandlerFunction(scope: Construct, props: HandlerFunctionProps): lambda.Function {
  const logGroup = new logs.LogGroup(scope, `${props.name}Logs`, { retention: props.logRetention });
  const role = new iam.Role(scope, `${props.name}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `${props.name} function of ${scope.node.path}`,
  });
  logGroup.grantWrite(role);
  const fn = new lambda.Function(scope, props.name, {
    description: props.description,
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'index.handler',
    code: props.code,
    memorySize: props.memoryMiB ?? DEFAULT_MEMORY_MIB,
    timeout: props.timeout,
    reservedConcurrentExecutions: props.reservedConcurrentExecutions,
    tracing: props.tracing,
    insightsVersion: props.insightsVersion,
    role,
    logGroup,
    loggingFormat: lambda.LoggingFormat.JSON,
    environment: {
      [CONFIG_ENV_VAR]: Stack.of(scope).toJsonString(props.config),
      POWERTOOLS_SERVICE_NAME: props.serviceName,
    },
  });
  Validations.of(fn).acknowledge({
    id: 'AwsSolutions-L1',
    reason: 'The handler is bundled for and tested on Node.js 22 (esbuild target node22), a supported Lambda runtime.',
  });
  if (props.tracing === lambda.Tracing.ACTIVE || props.tracing === lambda.Tracing.PASS_THROUGH) {
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'The one wildcard is X-Ray tracing, asked for with the tracing prop: xray:PutTraceSegments and xray:PutTelemetryRecords have no resource to scope to. Every other statement names this function\'s own resources.',
    });
  }
  if (props.insightsVersion !== undefined) {
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/CloudWatchLambdaInsightsExecutionRolePolicy]',
      reason: 'Lambda Insights, asked for with the insightsVersion prop, needs this AWS managed policy: its extension writes to the /aws/lambda-insights log group, and nothing else.',
    });
  }
  return fn;
}

const DEFAULT_MEMORY_MIB = 256;
const DEFAULT_TIMEOUT = Duration.seconds(28);

/**
 * The longest a webhook function may run: under API Gateway's 29-second integration timeout, so
 * that the function, not API Gateway, answers.
 */
export const MAX_WEBHOOK_TIMEOUT_SECONDS = 28;

/**
 * How long a handler may take, by design, to answer a request its downstream service is slow to
 * take: its own deadline, plus the one call that may be in flight when the deadline passes. A
 * function timeout under it lets Lambda end the request first. The figures follow the handlers'
 * wiring (test/lib/handler-function.test.ts derives them from it):
 * - ingest (`lambda/ingest/index.ts`): no PutRecords call starts 20 s into the write (the
 *   write deadline of the ingest config, `writeDeadlineMsFor`), and one takes at most 1 s to
 *   connect and 5 s to answer;
 * - ingest with queueAndSlowAccept: the write stops at 12 s (plus the call in flight, 6 s), then
 *   no SendMessageBatch starts 5 s into the spill, and one takes at most 1 + 3 s;
 * - trigger (`lambda/trigger/index.ts`): StartExecution and, for a retried delivery whose run
 *   exists, DescribeExecution; each two attempts of at most 1 + 5 s, and the SDK's backoff
 *   between them, under 1 s.
 */
export const HANDLER_ANSWER_SECONDS = {
  ingest: 26,
  ingestWithSpill: 27,
  trigger: 26,
} as const;

/** The handler function's settings from a construct's {@link WebhookFunctionOptions}, checked. */
export interface BoundFunctionOptions {
  readonly memoryMiB: number;
  readonly timeout: Duration;
  readonly reservedConcurrentExecutions?: number;
  readonly tracing?: lambda.Tracing;
  readonly insightsVersion?: lambda.LambdaInsightsVersion;
}

/**
 * Checks a construct's function options, naming `owner`, the value and the fix.
 *
 * @param answerSeconds the handler's own answer deadline (HANDLER_ANSWER_SECONDS), the least timeout
 * @param deadline what that deadline is, for the message
 */
export function bindFunctionOptions(owner: string, options: WebhookFunctionOptions, answerSeconds: number, deadline: string): BoundFunctionOptions {
  const memorySize = options.memorySize ?? Size.mebibytes(DEFAULT_MEMORY_MIB);
  let memoryMiB: number;
  if (memorySize.isUnresolved()) {
    memoryMiB = memorySize.toMebibytes();
  } else {
    memoryMiB = memorySize.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
    if (!Number.isInteger(memoryMiB) || memoryMiB < 128 || memoryMiB > 10_240) {
      throw new Error(`${owner}: memorySize must be a whole number of mebibytes from 128 MiB to 10240 MiB, as Lambda allows, got ${memorySize.toKibibytes({ rounding: SizeRoundingBehavior.NONE })} KiB; use Size.mebibytes(n)`);
    }
  }

  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  if (!timeout.isUnresolved()) {
    const seconds = timeout.toSeconds({ integral: false });
    if (!Number.isInteger(seconds) || seconds < answerSeconds || seconds > MAX_WEBHOOK_TIMEOUT_SECONDS) {
      throw new Error(`${owner}: timeout must be a whole number of seconds from ${answerSeconds} to ${MAX_WEBHOOK_TIMEOUT_SECONDS}, got ${timeout.toHumanString()}: `
        + `at least the handler's own deadline (${deadline}), so that it answers a slow request itself before Lambda ends it and API Gateway answers 502; `
        + `at most ${MAX_WEBHOOK_TIMEOUT_SECONDS}, under API Gateway's 29-second integration timeout. Remove timeout to keep ${DEFAULT_TIMEOUT.toSeconds()} seconds`);
    }
  }

  const reserved = options.reservedConcurrentExecutions;
  if (reserved !== undefined && !Token.isUnresolved(reserved) && (!Number.isInteger(reserved) || reserved < 1)) {
    throw new Error(`${owner}: reservedConcurrentExecutions must be a whole number of at least 1, got ${reserved}; 0 would refuse every request with API Gateway's 500. Remove it to share the account's unreserved concurrency`);
  }

  return {
    memoryMiB,
    timeout,
    reservedConcurrentExecutions: reserved,
    tracing: options.tracing,
    insightsVersion: options.insightsVersion,
  };
}

/**
 * Lets a handler read every rotation stage of one signing secret: DescribeSecret for the
 * version-to-label map, GetSecretValue for each version's value, and decrypt with its key.
 */
export function grantSigningSecretRead(fn: lambda.IFunction, secret: secretsmanager.ISecret): void {
  iam.Grant.addToPrincipal({
    grantee: fn,
    actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
    resourceArns: [secret.secretFullArn ?? `${secret.secretArn}-??????`],
  });
  secret.encryptionKey?.grantDecrypt(fn);
}

/** A metric a handler writes with EMF: namespace `CdkWebhookIngress`, dimension `service`. Sum over 5 minutes. */
export function handlerMetric(metricName: string, serviceName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'CdkWebhookIngress',
    metricName,
    dimensionsMap: { service: serviceName },
    statistic: cloudwatch.Stats.SUM,
    period: Duration.minutes(5),
    ...props,
  });
}
