// The managed mutual TLS custom resources' Lambda entry point: wiring only. The logic lives in
// ./handler (and the certificates in ./client-ca).
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { HandlerMetrics } from '../common/handler-metrics';
import { expiryReport, isExpiryCheck, onEvent, type ExpiryCheckEvent, type ProviderEvent, type ProviderResult } from './handler';
import { sdkTransport } from '../common/sdk-transport';

const logger = new Logger();
const metrics = new HandlerMetrics();
const requestHandler = () => sdkTransport(10_000, 2_000);
const deps = {
  secrets: new SecretsManagerClient({ maxAttempts: 3, requestHandler: requestHandler() }),
  s3: new S3Client({ maxAttempts: 3, requestHandler: requestHandler() }),
};

/** Answers CloudFormation on the pre-signed URL of the event. */
function respond(event: CloudFormationCustomResourceEvent, body: Record<string, unknown>): Promise<void> {
  const payload = JSON.stringify({ StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId, ...body });
  return new Promise((resolve, reject) => {
    // CloudFormation's URL is https; plain http only reaches a local stand-in.
    const request = event.ResponseURL.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(event.ResponseURL, { method: 'PUT', headers: { 'content-type': '', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      res.resume();
      res.on('end', () => ((res.statusCode ?? 500) < 300 ? resolve() : reject(new Error(`CloudFormation answered ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * The scheduled check: one EMF line per certificate, `ClientCertificateDaysToExpiry` dimensioned
 * by its serial alone, as the ingest and trigger handlers report it on each request.
 */
function reportExpiry(event: ExpiryCheckEvent): void {
  for (const { serialNumber, days } of expiryReport(event, Date.now())) {
    metrics.clientCertificateDaysToExpiry(serialNumber, days);
  }
}

export async function handler(event: CloudFormationCustomResourceEvent | ExpiryCheckEvent): Promise<void> {
  if (isExpiryCheck(event)) {
    reportExpiry(event);
    return;
  }
  const kind = (event.ResourceProperties as { Kind?: string }).Kind;
  let result: ProviderResult;
  try {
    result = await onEvent(event as unknown as ProviderEvent, deps);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    logger.error('managed mTLS resource failed', { requestType: event.RequestType, kind, logicalResourceId: event.LogicalResourceId, reason });
    const physicalId = 'PhysicalResourceId' in event ? event.PhysicalResourceId : `${event.LogicalResourceId}-failed`;
    await respond(event, { Status: 'FAILED', Reason: reason.slice(0, 1000), PhysicalResourceId: physicalId });
    return;
  }
  // Serial numbers and dates only: never a key.
  logger.info('managed mTLS resource done', { requestType: event.RequestType, kind, logicalResourceId: event.LogicalResourceId, physicalResourceId: result.PhysicalResourceId, data: result.Data });
  await respond(event, { Status: 'SUCCESS', PhysicalResourceId: result.PhysicalResourceId, Data: result.Data ?? {} });
}
