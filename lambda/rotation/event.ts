// What the rotation function publishes, shared with the constructs (no SDK here: lib loads it).

/** The pending event's source, for an EventBridge rule's pattern. */
export const ROTATION_EVENT_SOURCE = 'cdk-webhook-ingress';
/** The pending event's detail type, for an EventBridge rule's pattern. */
export const ROTATION_EVENT_DETAIL_TYPE = 'Webhook signing secret pending';
