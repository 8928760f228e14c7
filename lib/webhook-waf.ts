import { Duration, Lazy, Names, Token } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { checkWafRateLimit, WAF_MAX_LIMIT, WAF_MIN_LIMIT } from './private/path-throttle';

/** Options for {@link WebhookWaf.rateLimit}. */
export interface WebhookWafRateLimitOptions {
  /**
   * How many requests one IP address may send to one path within the evaluation window before
   * AWS WAF blocks it, with 429 and `Retry-After`, until its rate falls under the limit again.
   * At least 10. A source or trigger can set its own path's limit (`wafRateLimit`).
   *
   * @default - each path's own method throttle over the window (its `rateLimit` times the window
   * in seconds, 6,000 per 5 minutes for a path throttled at 20 requests per second): an address is
   * blocked once it alone sends faster than the whole path may take, which no sender the throttle
   * lets through ever does, so the path's capacity goes back to the other senders
   * @see https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html
   */
  readonly limit?: number;

  /**
   * How far back AWS WAF looks when it counts an address's requests: 1, 2, 5 or 10 minutes.
   *
   * @default Duration.minutes(5)
   */
  readonly evaluationWindow?: Duration;
}

/**
 * An AWS WAF web ACL for a {@link WebhookGateway}'s stage. Only REGIONAL web ACLs can protect an
 * API Gateway REST API.
 *
 * @see https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based.html
 */
export class WebhookWaf {
  /**
   * A web ACL the gateway creates and associates with its stage, holding one rate-based rule per
   * mounted path, counted per IP address: a single address that floods one path is blocked on that
   * path, while other addresses, and the same address on other paths, go on. Blocked requests get
   * 429 with `Retry-After` and a JSON body, before API Gateway or any Lambda runs. A web ACL holds
   * at most 10 rate-based rules, so a gateway with this web ACL mounts at most 10 paths.
   *
   * AWS WAF is billed per web ACL, per rule and per request.
   */
  public static rateLimit(options: WebhookWafRateLimitOptions = {}): WebhookWaf {
    return new WebhookWaf(options, undefined);
  }

  /**
   * A web ACL you manage, with rules of your own, associated with the gateway's stage. It must
   * have REGIONAL scope and be in the stack's Region.
   *
   * @param webAclArn such as `arn:aws:wafv2:eu-west-1:111111111111:regional/webacl/webhooks/a1b2c3d4-...`
   */
  public static fromWebAclArn(webAclArn: string): WebhookWaf {
    return new WebhookWaf(undefined, webAclArn);
  }

  private constructor(
    private readonly rateLimitOptions: WebhookWafRateLimitOptions | undefined,
    private readonly webAclArn: string | undefined,
  ) {}

  /**
   * Validates the options, creates the web ACL (for `rateLimit`) and associates it with the stage.
   *
   * @param paths the mounted paths, read when the template is written
   * @internal
   */
  public _bind(scope: Construct, owner: string, stage: apigw.Stage, stageName: string, paths: () => _WafPath[]): _WafBinding {
    if (this.webAclArn !== undefined) {
      const arn = this.webAclArn;
      if (!Token.isUnresolved(arn) && !/^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional\/webacl\/[\w-]+\/[\w-]+$/.test(arn)) {
        throw new Error(`${owner}: waf needs the ARN of a REGIONAL web ACL (arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>); a CLOUDFRONT (global) web ACL cannot protect an API Gateway REST API. Got '${arn}'`);
      }
      associate(scope, stage, arn);
      return { webAclArn: arn, rateLimited: false };
    }

    const options = this.rateLimitOptions ?? {};
    const window = options.evaluationWindow ?? Duration.minutes(5);
    const windowSeconds = window.toSeconds({ integral: false });
    if (!window.isUnresolved() && !EVALUATION_WINDOWS.includes(windowSeconds)) {
      throw new Error(`${owner}: waf evaluationWindow must be 1, 2, 5 or 10 minutes, the windows AWS WAF counts over, got ${window.toHumanString()}`);
    }
    if (options.limit !== undefined) checkWafRateLimit(`${owner}: waf`, 'limit', options.limit);

    const prefix = Names.uniqueResourceName(scope, { maxLength: 64, separator: '-' });
    const webAcl = new wafv2.CfnWebACL(scope, 'WebAcl', {
      scope: 'REGIONAL',
      description: `Rate limits per path and IP address of webhook gateway ${scope.node.path}`,
      defaultAction: { allow: {} },
      visibilityConfig: { cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: prefix },
      customResponseBodies: {
        [RATE_LIMITED_BODY]: {
          contentType: 'APPLICATION_JSON',
          content: '{"error":"RateLimited","message":"too many requests from this address to this path; retry after the time in Retry-After"}',
        },
      },
      rules: Lazy.any({
        produce: () => paths().map((p, i) => rateLimitRule(
          p, i, prefix, stageName, windowSeconds,
          p.limit ?? options.limit ?? derivedLimit(p.rateLimit, windowSeconds),
        )),
      }),
    });
    associate(scope, stage, webAcl.attrArn);
    return { webAclArn: webAcl.attrArn, webAcl, rateLimited: true };
  }
}

/**
 * A path as the rate-limiting web ACL needs it.
 *
 * @internal
 */
export interface _WafPath {
  /** The path under the stage, such as `hooks/github`. */
  readonly path: string;
  /** The path's own limit per evaluation window, if it has one. */
  readonly limit?: number;
  /** The path's method throttle rate, in requests per second. */
  readonly rateLimit: number;
}

/**
 * What a bound {@link WebhookWaf} gives the gateway.
 *
 * @internal
 */
export interface _WafBinding {
  /** The web ACL's ARN. */
  readonly webAclArn: string;
  /** The web ACL, when the gateway created it. */
  readonly webAcl?: wafv2.CfnWebACL;
  /** Whether the web ACL holds the gateway's per-path rate-based rules. */
  readonly rateLimited: boolean;
}

/** The evaluation windows AWS WAF counts over, in seconds. */
const EVALUATION_WINDOWS = [60, 120, 300, 600];
const RATE_LIMITED_BODY = 'RateLimited';

/** The default limit of a path: its throttle rate over the window, within AWS WAF's bounds. */
function derivedLimit(rateLimit: number, windowSeconds: number): number {
  return Math.min(WAF_MAX_LIMIT, Math.max(WAF_MIN_LIMIT, Math.ceil(rateLimit * windowSeconds)));
}

function associate(scope: Construct, stage: apigw.Stage, webAclArn: string): void {
  new wafv2.CfnWebACLAssociation(scope, 'WebAclAssociation', { resourceArn: stage.stageArn, webAclArn });
}

/**
 * One path's rule: requests whose URI path is the path (on the custom domain, `/<path>`; on the
 * execute-api endpoint, `/<stage>/<path>`; with or without a trailing slash, after URL decoding
 * and path normalization), counted per IP address.
 */
function rateLimitRule(p: _WafPath, index: number, prefix: string, stageName: string, windowSeconds: number, limit: number): wafv2.CfnWebACL.RuleProperty {
  const escape = (s: string) => s.replace(/[.]/g, '\\.');
  const name = `Path${index}-${p.path.replace(/[^A-Za-z0-9_-]/g, '-')}`.slice(0, 128);
  return {
    name,
    priority: index,
    action: {
      block: {
        customResponse: {
          responseCode: 429,
          customResponseBodyKey: RATE_LIMITED_BODY,
          responseHeaders: [{ name: 'Retry-After', value: String(windowSeconds) }],
        },
      },
    },
    statement: {
      rateBasedStatement: {
        limit,
        evaluationWindowSec: windowSeconds,
        aggregateKeyType: 'IP',
        scopeDownStatement: {
          regexMatchStatement: {
            fieldToMatch: { uriPath: {} },
            regexString: `^(/${escape(stageName)})?/${escape(p.path)}/?$`,
            textTransformations: [{ priority: 0, type: 'URL_DECODE' }, { priority: 1, type: 'NORMALIZE_PATH' }],
          },
        },
      },
    },
    visibilityConfig: { cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName: `${prefix}-${name}`.slice(0, 128) },
  };
}
