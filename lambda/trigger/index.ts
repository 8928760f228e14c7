// The trigger's Lambda entry point: wiring only. The request path lives in ../shared/trigger.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { SFNClient } from '@aws-sdk/client-sfn';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createJwtVerifier } from '../shared/jwt';
import { handlerSecretCache } from '../shared/secrets';
import { createTriggerHandler } from '../shared/trigger';
import { TRIGGER_CONFIG_ENV_VAR } from '../shared/trigger-config';
import { parseTriggerConfig } from '../shared/trigger-config-parse';

const logger = new Logger();
const metrics = new Metrics({ namespace: 'CdkWebhookIngress' });
let metricsPending = false;
const config = parseTriggerConfig(process.env[TRIGGER_CONFIG_ENV_VAR]);

// HTTP/1.1 with short timeouts and one retry: a throttled or failed start is answered 429 or 503
// with Retry-After well inside API Gateway's 29 seconds, and the sender retries with the same name.
const sfn = new SFNClient({
  maxAttempts: 2,
  requestHandler: new NodeHttpHandler({ connectionTimeout: 1_000, requestTimeout: 5_000 }),
});

const trigger = createTriggerHandler({
  config,
  logger,
  sfn,
  jwt: config.auth.kind === 'jwt' ? createJwtVerifier(config.auth) : undefined,
  secrets: handlerSecretCache(config, logger),
  metrics: {
    nonCurrentSecret: () => {
      metrics.addMetric('NonCurrentSecretRequests', MetricUnit.Count, 1);
      metricsPending = true;
    },
    // Days left on the caller's client certificate (fractional; negative once expired), per serial
    // number: its own EMF line, so that the serial dimension stays off the other metrics. Its only
    // dimension is the serial, without `service`: one metric per certificate, whichever sources and
    // triggers accept it, as MtlsClient.metricDaysToExpiry() reads it.
    clientCertificateDaysToExpiry: (serialNumber, days) => {
      const single = metrics.singleMetric();
      single.clearDefaultDimensions();
      single.addDimension('ClientCertificateSerial', serialNumber);
      single.addMetric('ClientCertificateDaysToExpiry', MetricUnit.Count, days);
    },
  },
});

export const handler: typeof trigger = async (event) => {
  try {
    return await trigger(event);
  } finally {
    // EMF: one log line with the request's metric, when it recorded one.
    if (metricsPending) metrics.publishStoredMetrics();
    metricsPending = false;
  }
};
