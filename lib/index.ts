export * from './backpressure-policy';
export * from './claim-check';
export * from './deduplication';
export * from './event-field';
export * from './payload-schema';
export * from './webhook-auth';
export * from './webhook-gateway';
export * from './webhook-stream-source';
