import { Annotations, Token } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import type { IConstruct } from 'constructs';
import type { BackpressureConfig } from '../../lambda/ingest/config';
import type { WebhookGateway } from '../webhook-gateway';

/** A throttle with both fields set: `rateLimit` in requests per second, `burstLimit` in requests. */
export interface Throttle {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

/** The stage throttle of a gateway given none. */
export const DEFAULT_STAGE_THROTTLE: Throttle = { rateLimit: 100, burstLimit: 200 };

/**
 * API Gateway's default account-level throttle per Region, shared by every API of the account.
 * A quota that can be raised, so going over it warns rather than fails.
 *
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html
 */
export const ACCOUNT_THROTTLE: Throttle = { rateLimit: 10_000, burstLimit: 5_000 };

/**
 * The concurrent executions one path's function may hold by default: a tenth of the default
 * Regional Lambda concurrency (1,000), which every function of the account shares.
 */
export const PATH_CONCURRENCY_SHARE = 100;

/**
 * What a trigger takes of Step Functions' StartExecution quota for Standard workflows in most
 * Regions (a token bucket of 800, refilled at 150 per second, shared by the account): a fifth.
 *
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html#service-limits-api-action-throttling-general
 */
export const TRIGGER_THROTTLE: Throttle = { rateLimit: 30, burstLimit: 160 };

/**
 * A stream source's default path throttle, from its backpressure policy (see the `throttle` prop
 * of WebhookStreamSource for the reasoning).
 */
export function sourceThrottleDefault(backpressure: BackpressureConfig, stage: Throttle, reservedConcurrency?: number): Throttle {
  if (backpressure.kind === 'queueAndSlowAccept') return withinConcurrency(withinStage(stage, stage), reservedConcurrency);
  const concurrency = reservedConcurrency === undefined || Token.isUnresolved(reservedConcurrency) ? PATH_CONCURRENCY_SHARE : reservedConcurrency;
  const seconds = backpressure.retryBudgetMs / 1000;
  const rateLimit = Math.max(1, Math.floor(concurrency / seconds));
  return withinStage({ rateLimit, burstLimit: concurrency }, stage);
}

/** A trigger's default path throttle. */
export function triggerThrottleDefault(stage: Throttle, reservedConcurrency?: number): Throttle {
  return withinConcurrency(withinStage(TRIGGER_THROTTLE, stage), reservedConcurrency);
}

/**
 * Caps a throttle's burst at the function's reserved concurrency, keeping the rate within it: a
 * request beyond the reservation would get API Gateway's 500 instead of a 429.
 */
function withinConcurrency(throttle: Throttle, reservedConcurrency: number | undefined): Throttle {
  if (reservedConcurrency === undefined || Token.isUnresolved(reservedConcurrency)) return throttle;
  const burstLimit = Math.min(throttle.burstLimit, reservedConcurrency);
  return { rateLimit: Math.min(throttle.rateLimit, burstLimit), burstLimit };
}

/**
 * Warns when a path's throttle lets through more requests at once than its function has
 * reserved executions: API Gateway answers those with a 500, not a 429.
 */
export function warnAboveReservedConcurrency(scope: IConstruct, owner: string, throttle: Throttle, reservedConcurrency: number | undefined): void {
  if (reservedConcurrency === undefined || Token.isUnresolved(reservedConcurrency) || Token.isUnresolved(throttle.burstLimit)) return;
  if (throttle.burstLimit > reservedConcurrency) {
    Annotations.of(scope).addWarningV2(
      'cdk-webhook-ingress:throttleAboveReservedConcurrency',
      `${owner}: throttle.burstLimit ${throttle.burstLimit} is above reservedConcurrentExecutions ${reservedConcurrency}: requests beyond the function's reserved executions get API Gateway's 500 instead of a 429. Lower throttle.burstLimit to ${reservedConcurrency}, or raise reservedConcurrentExecutions`,
    );
  }
}

/** Caps a throttle at the stage's, keeping the burst at least the rate. */
function withinStage(throttle: Throttle, stage: Throttle): Throttle {
  if (Token.isUnresolved(stage.rateLimit) || Token.isUnresolved(stage.burstLimit)) return throttle;
  const burstLimit = Math.min(throttle.burstLimit, stage.burstLimit);
  return { rateLimit: Math.min(throttle.rateLimit, stage.rateLimit, burstLimit), burstLimit };
}

/**
 * The path throttle: what was given, each missing field from the default, checked against the
 * stage's throttle. Throws naming `owner`, the value and the fix.
 *
 * @param stageIsOwn whether the stage belongs to a gateway the construct creates for itself, whose
 * throttle is raised to fit the path's (so it is not checked against the stage)
 */
export function resolvePathThrottle(owner: string, given: apigw.ThrottleSettings | undefined, fallback: Throttle, stage: Throttle, stageIsOwn: boolean): Throttle {
  const givenRate = given?.rateLimit;
  const givenBurst = given?.burstLimit;
  let rateLimit = givenRate ?? fallback.rateLimit;
  let burstLimit = givenBurst ?? fallback.burstLimit;
  // A field left out follows the one given, so a partial throttle is consistent.
  if (givenRate !== undefined && givenBurst === undefined && !Token.isUnresolved(givenRate)) {
    burstLimit = Math.max(fallback.burstLimit, Math.ceil(givenRate));
    if (!stageIsOwn && !Token.isUnresolved(stage.burstLimit)) burstLimit = Math.min(burstLimit, Math.max(stage.burstLimit, Math.ceil(givenRate)));
  }
  if (givenBurst !== undefined && givenRate === undefined && !Token.isUnresolved(givenBurst)) {
    rateLimit = Math.min(fallback.rateLimit, givenBurst);
  }
  const throttle = { rateLimit, burstLimit };
  checkThrottle(owner, 'throttle', throttle);
  if (Token.isUnresolved(rateLimit) || Token.isUnresolved(burstLimit)) return throttle;
  if (burstLimit < rateLimit) {
    throw new Error(`${owner}: throttle.burstLimit (${burstLimit}) must be at least throttle.rateLimit (${rateLimit}), or one second's worth of requests could never be accepted at once; raise burstLimit to ${Math.ceil(rateLimit)} or more`);
  }
  if (!stageIsOwn) {
    for (const field of ['rateLimit', 'burstLimit'] as const) {
      if (!Token.isUnresolved(stage[field]) && throttle[field] > stage[field]) {
        throw new Error(`${owner}: throttle.${field} ${throttle[field]} is above the gateway's stage throttle of ${stage[field]}, the ceiling of every path; lower it, or raise the gateway's throttle.${field}`);
      }
    }
  }
  return throttle;
}

/** Throws unless the rate is a positive number and the burst a positive whole number. */
export function checkThrottle(owner: string, name: string, throttle: Throttle): void {
  const { rateLimit, burstLimit } = throttle;
  if (!Token.isUnresolved(rateLimit) && !(Number.isFinite(rateLimit) && rateLimit > 0)) {
    throw new Error(`${owner}: ${name}.rateLimit must be a positive number of requests per second, got ${rateLimit}`);
  }
  if (!Token.isUnresolved(burstLimit) && !(Number.isInteger(burstLimit) && burstLimit >= 1)) {
    throw new Error(`${owner}: ${name}.burstLimit must be a whole number of requests of at least 1, got ${burstLimit}`);
  }
}

/** Warns when a throttle goes over API Gateway's default account-level limits. */
export function warnAboveAccountThrottle(scope: IConstruct, owner: string, name: string, throttle: Throttle): void {
  for (const field of ['rateLimit', 'burstLimit'] as const) {
    if (!Token.isUnresolved(throttle[field]) && throttle[field] > ACCOUNT_THROTTLE[field]) {
      Annotations.of(scope).addWarningV2(
        `cdk-webhook-ingress:aboveAccountThrottle:${field}`,
        `${owner}: ${name}.${field} ${throttle[field]} is above API Gateway's default account-level ${field} of ${ACCOUNT_THROTTLE[field]} per Region, shared by every API of the account, which caps it unless the account's quota was raised`,
      );
    }
  }
}

/** AWS WAF's bounds of a rate-based rule's limit, in requests per evaluation window. */
export const WAF_MIN_LIMIT = 10;
export const WAF_MAX_LIMIT = 2_000_000_000;

/** AWS WAF's quota of rate-based rules in one web ACL, which cannot be raised. */
export const WAF_MAX_RATE_BASED_RULES = 10;

/** Throws unless `limit` is a whole number AWS WAF takes as a rate-based rule's limit. */
export function checkWafRateLimit(owner: string, name: string, limit: number): void {
  if (!Token.isUnresolved(limit) && !(Number.isInteger(limit) && limit >= WAF_MIN_LIMIT && limit <= WAF_MAX_LIMIT)) {
    throw new Error(`${owner}: ${name} must be a whole number of requests per evaluation window from ${WAF_MIN_LIMIT} (AWS WAF's minimum) to ${WAF_MAX_LIMIT}, got ${limit}`);
  }
}

/** The props of a source or trigger that set its path's limits. */
export interface PathLimitProps {
  readonly gateway?: WebhookGateway;
  readonly throttle?: apigw.ThrottleSettings;
  readonly wafRateLimit?: number;
}

/**
 * A source's or trigger's path limits, checked against its gateway before anything is built:
 * its throttle, and the stage throttle of the gateway it creates when it is given none (raised to
 * fit the path's).
 */
export function bindPathLimits(scope: IConstruct, owner: string, props: PathLimitProps, defaultFor: (stage: Throttle) => Throttle): { throttle: Throttle; ownGatewayThrottle: Throttle } {
  const stage = props.gateway?._stageThrottle ?? DEFAULT_STAGE_THROTTLE;
  const throttle = resolvePathThrottle(owner, props.throttle, defaultFor(stage), stage, props.gateway === undefined);
  warnAboveAccountThrottle(scope, owner, 'throttle', throttle);
  if (props.gateway !== undefined) {
    props.gateway._checkPathLimits(owner, props.wafRateLimit);
  } else if (props.wafRateLimit !== undefined) {
    throw new Error(`${owner}: wafRateLimit needs a gateway with a rate-limiting web ACL; pass a gateway with waf: WebhookWaf.rateLimit() as 'gateway', or remove wafRateLimit`);
  }
  const raise = (field: keyof Throttle) => (Token.isUnresolved(throttle[field]) ? DEFAULT_STAGE_THROTTLE[field] : Math.max(DEFAULT_STAGE_THROTTLE[field], throttle[field]));
  return { throttle, ownGatewayThrottle: { rateLimit: raise('rateLimit'), burstLimit: raise('burstLimit') } };
}
