export * from './backpressure-policy';
export * from './event-field';
export * from './webhook-auth';
export * from './webhook-stream-source';
