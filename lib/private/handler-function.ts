import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { CONFIG_ENV_VAR } from '../../lambda/shared/config';

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
    memorySize: 256,
    timeout: props.timeout,
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
  return fn;
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
