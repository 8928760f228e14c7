export * from './backpressure-policy';
export * from './deduplication';
export * from './event-field';
export * from './webhook-auth';
export * from './webhook-gateway';
export * from './webhook-stream-source';
