import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * The handlers' EMF metrics, namespace `CdkWebhookIngress`, dimension `service` (the function's
 * POWERTOOLS_SERVICE_NAME). Counts a request records are stored and written as one log line when
 * the request ends, and only when it recorded any.
 */
export class HandlerMetrics {
  /** The hooks of every handler that authenticates requests (ingest and trigger). */
  readonly authentication = {
    nonCurrentSecret: (): void => this.count('NonCurrentSecretRequests', 1),
    clientCertificateDaysToExpiry: (serialNumber: string, days: number): void => this.clientCertificateDaysToExpiry(serialNumber, days),
  };

  private readonly metrics = new Metrics({ namespace: 'CdkWebhookIngress' });
  private pending = false;

  /** Adds to a count of this request. */
  count(name: string, value: number): void {
    this.metrics.addMetric(name, MetricUnit.Count, value);
    this.pending = true;
  }

  /**
   * Days left on a client certificate (fractional; negative once expired), on a line of its own,
   * dimensioned by its serial number alone, without `service`: one metric per certificate,
   * whichever handler reports it, as MtlsClient.metricDaysToExpiry() reads it.
   */
  clientCertificateDaysToExpiry(serialNumber: string, days: number): void {
    const single = this.metrics.singleMetric();
    single.clearDefaultDimensions();
    single.addDimension('ClientCertificateSerial', serialNumber);
    single.addMetric('ClientCertificateDaysToExpiry', MetricUnit.Count, days);
  }

  /** The handler, writing the counts each request recorded once it is answered. */
  publishAfter<E, R>(handler: (event: E) => Promise<R>): (event: E) => Promise<R> {
    return async (event) => {
      try {
        return await handler(event);
      } finally {
        if (this.pending) this.metrics.publishStoredMetrics();
        this.pending = false;
      }
    };
  }
}
