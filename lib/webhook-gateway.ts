import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import * as nodePath from 'node:path';
import { Annotations, CustomResource, Duration, Lazy, Names, RemovalPolicy, Token, Validations, type IResolvable } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { MtlsClient, type IMtlsClientIssuer, type MtlsClientOptions } from './mtls-client';
import { managedClientCaOf, registerManagedClientCa } from './private/managed-client-ca';
import { handlerDir, newHandlerFunction } from './private/handler-function';
import { HEADER_NAME, WEBHOOK_PATH } from './private/http-names';
import {
  checkThrottle, checkWafRateLimit, DEFAULT_STAGE_THROTTLE, WAF_MAX_RATE_BASED_RULES, warnAboveAccountThrottle, type Throttle,
} from './private/path-throttle';
import type { WebhookWaf, _WafBinding } from './webhook-waf';

/**
 * A client certificate authority that a {@link WebhookGateway} creates and keeps for mutual TLS,
 * so that no one has to run a CA: `gateway.addMtlsClient()` issues each sender's certificate.
 */
export interface ManagedClientCaOptions {
  /**
   * The CA certificate's common name: letters, digits, spaces, `.`, `_` and `-`, at most 64.
   *
   * @default 'Webhook gateway client CA'
   */
  readonly commonName?: string;

  /**
   * How long the CA certificate is valid, in whole days up to 3650. The CA is created once and
   * kept across deployments; a changed value applies only to a CA created anew.
   *
   * @default Duration.days(3650)
   */
  readonly validity?: Duration;

  /**
   * What happens to the secret holding the CA's private key and certificate when it leaves the
   * stack (the gateway is removed, the stack is deleted, or a change replaces the secret).
   * Every client certificate chains to this CA, so losing it revokes every sender at once.
   * Retained, the CA survives, and so does its certificate in the truststore bucket (which is
   * always retained): a new gateway can trust it again with `mtls: { truststorePath }` (the CA
   * certificate: `truststore.pem` in the bucket, or `certificatePem` in the secret), and the
   * senders' certificates keep working. `RemovalPolicy.DESTROY` deletes it with the stack;
   * `RemovalPolicy.SNAPSHOT` is refused, since a secret has no snapshot.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Mutual TLS for a {@link WebhookGateway}'s custom domain: callers must present a client
 * certificate issued by one of the certificate authorities in the truststore. Give exactly one of
 * `truststorePath` (your own CA) and `managedCa` (a CA the gateway creates).
 *
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-mutual-tls.html
 */
export interface MtlsOptions {
  /**
   * A local PEM file holding the certificate authorities that issue the callers' client
   * certificates (root and intermediate CAs, no private keys). A relative path is resolved
   * against the current working directory. At most 1 MB and 1000 certificates.
   *
   * The file is published as an asset and copied into the gateway's truststore bucket during
   * deployment; the custom domain is pinned to the copy's S3 object version, so editing the file
   * and deploying again rolls the domain over to the new truststore.
   *
   * @default - none: `managedCa` must be set
   */
  readonly truststorePath?: string;

  /**
   * Let the gateway create and keep the client CA: its private key in a Secrets Manager secret,
   * its certificate as the truststore. Issue senders' certificates with `addMtlsClient`.
   *
   * @default - none: `truststorePath` must be set
   */
  readonly managedCa?: ManagedClientCaOptions;

  /**
   * The bucket that receives the truststore bucket's S3 server access logs.
   *
   * @default - no server access logs: the bucket holds only public CA certificates, written only
   * by deployments (which CloudTrail records) and read only by API Gateway when the domain changes
   */
  readonly serverAccessLogsBucket?: s3.IBucket;
}

/**
 * A custom domain name for a {@link WebhookGateway}. The domain is regional, requires TLS 1.2 or
 * later, and maps its root to the gateway's stage.
 *
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-custom-domains.html
 */
export interface WebhookGatewayDomainOptions {
  /** The host name senders call, such as `hooks.example.com`. Lowercase, without a scheme or path. */
  readonly domainName: string;

  /** An ACM certificate for `domainName`, in the stack's region. */
  readonly certificate: acm.ICertificate;

  /**
   * Require callers to present a client certificate issued by a CA in a truststore.
   *
   * @default - no mutual TLS
   */
  readonly mtls?: MtlsOptions;
}

/** Properties of a {@link WebhookGateway}. */
export interface WebhookGatewayProps {
  /**
   * A custom domain name for the API, optionally with mutual TLS.
   *
   * @default - no custom domain: senders call the execute-api endpoint
   */
  readonly domain?: WebhookGatewayDomainOptions;

  /**
   * The only source addresses allowed to call the API, as IPv4 or IPv6 CIDR blocks such as
   * `192.0.2.0/24` or `2001:db8::/32`. The API's resource policy denies `execute-api:Invoke` to
   * every other address. Needs `domain`, because an allowlist turns the execute-api endpoint off.
   *
   * @default - any address may call the API
   * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-resource-policies-examples.html#apigateway-resource-policies-source-ip-address-example
   */
  readonly allowedIpRanges?: string[];

  /**
   * Whether to turn off the default `https://{api-id}.execute-api.{region}.amazonaws.com`
   * endpoint, so that callers can only use the custom domain. It must stay off with mutual TLS or
   * an IP allowlist, which the default endpoint would let callers go around.
   *
   * @default - true when `domain.mtls` or `allowedIpRanges` is set, else false
   */
  readonly disableExecuteApiEndpoint?: boolean;

  /**
   * The stage's default method throttle, and the ceiling of every path's own: `rateLimit` in
   * requests per second, `burstLimit` in requests. Each webhook source or trigger sets its path's
   * own throttle within it (its `throttle` prop), so that a flood on one path is answered 429 on
   * that path, before its function runs, instead of using up the API Gateway and Lambda capacity
   * that every path of the account shares. Usage plans of senders throttle further.
   *
   * @default - rateLimit 100 and burstLimit 200
   * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-request-throttling.html
   */
  readonly throttle?: apigw.ThrottleSettings;

  /**
   * An AWS WAF web ACL on the stage: `WebhookWaf.rateLimit()` limits each IP address's requests
   * per path, so that one flooding address cannot take a path's whole throttle from the other
   * senders; `WebhookWaf.fromWebAclArn()` associates a web ACL you manage.
   *
   * @default - no web ACL
   */
  readonly waf?: WebhookWaf;

  /**
   * Whether the stage sends traces to AWS X-Ray.
   *
   * @default false
   */
  readonly tracing?: boolean;

  /**
   * How long the stage's access logs are kept.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Options for {@link WebhookGateway.addSender}. Leave a field of `throttle` or `quota` out to get
 * its default.
 */
export interface SenderOptions {
  /**
   * How fast this sender may call: `rateLimit` in requests per second, `burstLimit` in requests.
   * The gateway's stage throttling still applies on top.
   *
   * @default - rateLimit 10 and burstLimit 20
   */
  readonly throttle?: apigw.ThrottleSettings;

  /**
   * How many requests this sender may make per period.
   *
   * @default - limit 10000 per apigw.Period.DAY, no offset
   */
  readonly quota?: apigw.QuotaSettings;

  /**
   * A description of the sender's API key.
   *
   * @default - names the sender and the gateway
   */
  readonly description?: string;
}

const DOMAIN = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;
const TRUSTSTORE_KEY = 'truststore.pem';
const CA_NAME = /^[A-Za-z0-9 ._-]{1,64}$/;
// API Gateway's truststore limits.
const TRUSTSTORE_MAX_BYTES = 1024 * 1024;
const TRUSTSTORE_MAX_CERTIFICATES = 1000;

/** The stage every gateway deploys to; also the first segment of its execute-api paths. */
const STAGE_NAME = 'prod';
const DEFAULT_SENDER_THROTTLE = { rateLimit: 10, burstLimit: 20 };
const DEFAULT_SENDER_QUOTA = { limit: 10_000, period: apigw.Period.DAY };
const MAX_QUOTA_OFFSET: Record<apigw.Period, number> = {
  [apigw.Period.DAY]: 0,
  [apigw.Period.WEEK]: 6,
  [apigw.Period.MONTH]: 27,
};

/**
 * One REST API shared by many webhook sources and triggers, each mounted on its own POST path.
 *
 * It creates a regional REST API that passes every media type through as binary (so bodies reach
 * the handlers byte for byte), with access logs, a stage throttle under which each path gets its
 * own and, optionally, a custom domain with mutual TLS, an IP allowlist, an AWS WAF web ACL that
 * rate-limits each address per path, and API keys with usage plans for internal senders.
 *
 * @example
 * declare const certificate: acm.ICertificate;
 * const gateway = new WebhookGateway(this, 'Gateway', {
 *   domain: {
 *     domainName: 'hooks.example.com',
 *     certificate,
 *     mtls: { truststorePath: 'certs/partners-ca.pem' },
 *   },
 *   allowedIpRanges: ['192.0.2.0/24'],
 * });
 * const billingKey = gateway.addSender('Billing', { throttle: { rateLimit: 50, burstLimit: 100 } });
 */
export class WebhookGateway extends Construct implements IMtlsClientIssuer {
  /** The REST API on which the webhook paths are mounted. */
  public readonly api: apigw.RestApi;

  /** The custom domain name, when one is configured. */
  public readonly domain?: apigw.DomainName;

  /** The versioned bucket holding the mutual TLS truststore, when mutual TLS is on. */
  public readonly truststoreBucket?: s3.IBucket;

  /** The log group receiving the stage's access logs, one JSON object per request. */
  public readonly accessLogGroup: logs.ILogGroup;

  /** The ARN of the AWS WAF web ACL associated with the stage, when `waf` is set. */
  public readonly webAclArn?: string;

  private readonly owner: string;
  private readonly domainName?: string;
  private readonly stageThrottle: Throttle;
  private readonly waf?: _WafBinding;
  private readonly routes = new Map<string, apigw.Method>();
  private readonly routeLimits = new Map<string, { readonly throttle?: Throttle; readonly wafRateLimit?: number }>();
  private readonly senders = new Map<string, apigw.IApiKey>();
  private sendersScope?: Construct;
  private requireParameters?: apigw.RequestValidator;
  private mtlsClientsScope?: Construct;
  private readonly mtlsClients: MtlsClient[] = [];

  constructor(scope: Construct, id: string, props: WebhookGatewayProps = {}) {
    super(scope, id);
    const owner = `WebhookGateway '${this.node.path}'`;
    this.owner = owner;

    // Validate everything before building anything.
    const domainOptions = props.domain;
    if (domainOptions && !Token.isUnresolved(domainOptions.domainName) && !DOMAIN.test(domainOptions.domainName)) {
      throw new Error(`${owner}: domain.domainName must be a lowercase host name without a scheme or path, such as 'hooks.example.com', got '${domainOptions.domainName}'`);
    }
    const mtls = domainOptions?.mtls;
    if (mtls && (mtls.truststorePath === undefined) === (mtls.managedCa === undefined)) {
      throw new Error(`${owner}: domain.mtls needs exactly one of truststorePath (your own CA's certificates) and managedCa (a CA the gateway creates), got ${mtls.truststorePath === undefined ? 'neither' : 'both'}`);
    }
    const truststoreFile = mtls?.truststorePath !== undefined ? readTruststore(this, owner, mtls.truststorePath) : undefined;
    const caCommonName = mtls?.managedCa?.commonName ?? 'Webhook gateway client CA';
    if (!Token.isUnresolved(caCommonName) && !CA_NAME.test(caCommonName)) {
      throw new Error(`${owner}: domain.mtls.managedCa.commonName must be 1 to 64 letters, digits, spaces, '.', '_' or '-', got '${caCommonName}'`);
    }
    const caRemovalPolicy = mtls?.managedCa?.removalPolicy ?? RemovalPolicy.RETAIN;
    if (caRemovalPolicy === RemovalPolicy.SNAPSHOT) {
      throw new Error(`${owner}: domain.mtls.managedCa.removalPolicy cannot be RemovalPolicy.SNAPSHOT: a Secrets Manager secret has no snapshot. Use RemovalPolicy.RETAIN (the default) or RemovalPolicy.DESTROY`);
    }
    const caValidity = mtls?.managedCa?.validity ?? Duration.days(3650);
    const caValidityDays = caValidity.toDays({ integral: false });
    if (!caValidity.isUnresolved() && (!Number.isInteger(caValidityDays) || caValidityDays < 1 || caValidityDays > 3650)) {
      throw new Error(`${owner}: domain.mtls.managedCa.validity must be a whole number of days from 1 to 3650, got ${caValidity.toHumanString()}`);
    }

    const allowedIpRanges = props.allowedIpRanges;
    if (allowedIpRanges !== undefined) {
      if (allowedIpRanges.length === 0) {
        throw new Error(`${owner}: allowedIpRanges is empty, so every caller would be denied; omit it to allow any address`);
      }
      const bad = allowedIpRanges.filter((range) => !Token.isUnresolved(range) && !isCidr(range));
      if (bad.length > 0) {
        throw new Error(`${owner}: allowedIpRanges must be IPv4 or IPv6 CIDR blocks such as '192.0.2.0/24' or '2001:db8::/32' (write one address as '192.0.2.10/32'), got '${bad.join("', '")}'`);
      }
    }

    const lockedDown = [mtls ? 'mutual TLS' : undefined, allowedIpRanges ? 'an IP allowlist (allowedIpRanges)' : undefined].filter((x) => x !== undefined);
    if (lockedDown.length > 0 && props.disableExecuteApiEndpoint === false) {
      throw new Error(`${owner}: disableExecuteApiEndpoint is false, but ${lockedDown.join(' and ')} is on; callers could go around it through the execute-api endpoint. Remove disableExecuteApiEndpoint: it defaults to true here`);
    }
    if (allowedIpRanges && !domainOptions) {
      throw new Error(`${owner}: allowedIpRanges needs a custom domain: an IP allowlist turns the execute-api endpoint off, which would leave the API with no endpoint. Set domain`);
    }
    const disableExecuteApiEndpoint = props.disableExecuteApiEndpoint ?? lockedDown.length > 0;

    const stageThrottle = {
      rateLimit: props.throttle?.rateLimit ?? DEFAULT_STAGE_THROTTLE.rateLimit,
      burstLimit: props.throttle?.burstLimit ?? DEFAULT_STAGE_THROTTLE.burstLimit,
    };
    checkThrottle(owner, 'throttle', stageThrottle);
    warnAboveAccountThrottle(this, owner, 'throttle', stageThrottle);
    this.stageThrottle = stageThrottle;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    // The API. Every media type is binary, so each handler gets the exact bytes that were signed.
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logRetention });
    this.accessLogGroup = accessLogs;
    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: Names.uniqueResourceName(this, { maxLength: 128, separator: '-' }),
      description: `Webhook gateway ${this.node.path}`,
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      binaryMediaTypes: ['*/*'],
      cloudWatchRole: false,
      disableExecuteApiEndpoint,
      policy: allowedIpRanges ? allowlistPolicy(allowedIpRanges) : undefined,
      deployOptions: {
        stageName: STAGE_NAME,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
        tracingEnabled: props.tracing ?? false,
        throttlingRateLimit: stageThrottle.rateLimit,
        throttlingBurstLimit: stageThrottle.burstLimit,
      },
    });
    // A changed resource policy only applies once the API is deployed again.
    this.api.latestDeployment?.addToLogicalId({ allowedIpRanges });

    // Each path's own throttle is a method setting of the stage, beside the stage default. Paths
    // are mounted after the gateway is built, so the settings are written when the template is.
    const cfnStage = this.api.deploymentStage.node.defaultChild as apigw.CfnStage;
    const stageSettings = cfnStage.methodSettings;
    cfnStage.methodSettings = Lazy.any({
      produce: (): Array<apigw.CfnStage.MethodSettingProperty | IResolvable> => [
        ...(Array.isArray(stageSettings) ? stageSettings : []),
        ...[...this.routeLimits].flatMap(([path, { throttle }]) => (throttle === undefined ? [] : [{
          httpMethod: 'POST',
          resourcePath: methodSettingPath(path),
          throttlingRateLimit: throttle.rateLimit,
          throttlingBurstLimit: throttle.burstLimit,
        }])),
      ],
    });

    // The web ACL, with a rule per path for the rate-limiting one.
    if (props.waf !== undefined) {
      this.waf = props.waf._bind(this, owner, this.api.deploymentStage, STAGE_NAME, () => [...this.routeLimits].map(([path, limits]) => ({
        path,
        limit: limits.wafRateLimit,
        rateLimit: (limits.throttle ?? this.stageThrottle).rateLimit,
      })));
      this.webAclArn = this.waf.webAclArn;
    }

    // Throttled callers get an honest 429 that says when to try again.
    this.api.addGatewayResponse('Throttled', {
      type: apigw.ResponseType.THROTTLED,
      statusCode: '429',
      responseHeaders: { 'Retry-After': "'1'" },
      templates: {
        'application/json': '{"error":"Throttled","message":$context.error.messageString,"correlationId":"$context.requestId"}',
      },
    });

    // The truststore, in a bucket of its own, at a version the domain is pinned to: a copy of the
    // given file, or the managed CA's certificate.
    let mtlsConfig: apigw.MTLSConfig | undefined;
    if (mtls) {
      const bucket = new s3.Bucket(this, 'TruststoreBucket', {
        versioned: true,
        encryption: s3.BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        minimumTLSVersion: 1.2,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        serverAccessLogsBucket: mtls.serverAccessLogsBucket,
      });
      this.truststoreBucket = bucket;
      if (!mtls.serverAccessLogsBucket) {
        Validations.of(bucket).acknowledge({
          id: 'AwsSolutions-S1',
          reason: 'The bucket holds only the public CA certificates of the mTLS truststore. Only deployments write it (CloudTrail records them) and only API Gateway reads it, when the domain changes. Pass mtls.serverAccessLogsBucket to log access anyway.',
        });
      }
      const version = truststoreFile !== undefined
        ? copyTruststore(this, bucket, truststoreFile)
        : this.createManagedCa(bucket, caCommonName, caValidityDays, caValidity.isUnresolved(), caRemovalPolicy, props.logRetention ?? logs.RetentionDays.ONE_MONTH);
      mtlsConfig = { bucket, key: TRUSTSTORE_KEY, version };
    }

    // The custom domain, mapped at its root to the API's stage.
    if (domainOptions) {
      this.domainName = domainOptions.domainName;
      this.domain = new apigw.DomainName(this, 'Domain', {
        domainName: domainOptions.domainName,
        certificate: domainOptions.certificate,
        endpointType: apigw.EndpointType.REGIONAL,
        securityPolicy: apigw.SecurityPolicy.TLS_1_2,
        mtls: mtlsConfig,
      });
      this.domain.addBasePathMapping(this.api, { stage: this.api.deploymentStage });
    }

    this.node.addValidation({
      validate: () => (this.routes.size === 0
        ? [`${owner}: no webhook path is mounted, and a REST API needs at least one method. Pass the gateway to a webhook source or trigger`]
        : []),
    });

    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason: 'Request parameters are validated where a path requires a signature header. The body is deliberately not validated by API Gateway: it must reach the handler byte for byte so its signature can be checked, and the handler validates it after authentication.',
    });
    for (const rule of ['AwsSolutions-APIG4', 'AwsSolutions-COG4']) {
      Validations.of(this.api).acknowledge({
        id: rule,
        reason: 'Each request is authenticated by the handler behind its path: a signature over the raw body, a bearer token, a JWT or a TLS client certificate. API Gateway authorizers cannot see the body. API keys only identify and throttle internal senders.',
      });
    }
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG6',
      reason: 'Access logs are on. Execution logging needs an account-wide CloudWatch role that a library must not take over, and with data tracing it would log webhook bodies.',
    });
  }

  /**
   * Creates an API key for an internal sender, with a usage plan on this API's stage that
   * throttles the key and caps its requests per period.
   *
   * Only paths mounted with `apiKeyRequired` check keys. Vendors such as Stripe and GitHub cannot
   * send an `x-api-key` header, so keys are for internal senders only. The key's value is
   * generated by API Gateway and never appears in the template.
   *
   * @param id the sender's construct id, such as `Billing`; unique within this gateway
   * @param options the sender's throttling and quota
   * @returns the sender's API key, to be sent in the `x-api-key` header
   * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-api-usage-plans.html
   */
  public addSender(id: string, options: SenderOptions = {}): apigw.IApiKey {
    const owner = `${this.owner}: sender '${id}'`;
    if (this.senders.has(id)) {
      throw new Error(`${owner} is already added; give each sender its own id`);
    }
    const throttle = {
      rateLimit: options.throttle?.rateLimit ?? DEFAULT_SENDER_THROTTLE.rateLimit,
      burstLimit: options.throttle?.burstLimit ?? DEFAULT_SENDER_THROTTLE.burstLimit,
    };
    checkThrottle(owner, 'throttle', throttle);
    const quota = {
      limit: options.quota?.limit ?? DEFAULT_SENDER_QUOTA.limit,
      period: options.quota?.period ?? DEFAULT_SENDER_QUOTA.period,
      offset: options.quota?.offset,
    };
    if (!Token.isUnresolved(quota.limit) && (!Number.isInteger(quota.limit) || quota.limit < 1)) {
      throw new Error(`${owner}: quota.limit must be a whole number of requests of at least 1, got ${quota.limit}`);
    }
    const maxOffset = MAX_QUOTA_OFFSET[quota.period];
    if (quota.offset !== undefined && !Token.isUnresolved(quota.offset) && maxOffset !== undefined
      && (!Number.isInteger(quota.offset) || quota.offset < 0 || quota.offset > maxOffset)) {
      throw new Error(`${owner}: quota.offset must be a whole number from 0 to ${maxOffset} for period ${quota.period}, got ${quota.offset}`);
    }
    for (const field of ['rateLimit', 'burstLimit'] as const) {
      if (!Token.isUnresolved(throttle[field]) && !Token.isUnresolved(this.stageThrottle[field]) && throttle[field] > this.stageThrottle[field]) {
        Annotations.of(this).addWarningV2(
          `cdk-webhook-ingress:senderAboveStageThrottle:${id}:${field}`,
          `${owner}: throttle.${field} ${throttle[field]} is above the gateway's stage throttle of ${this.stageThrottle[field]}, which caps it; raise the gateway's throttle.${field} if the sender needs more`,
        );
      }
    }

    this.sendersScope ??= new Construct(this, 'Senders');
    const scope = new Construct(this.sendersScope, id);
    const key = new apigw.ApiKey(scope, 'Key', {
      description: options.description ?? `Webhook sender ${id} of ${this.node.path}`,
      enabled: true,
    });
    const plan = new apigw.UsagePlan(scope, 'UsagePlan', {
      description: `Limits of webhook sender ${id} of ${this.node.path}`,
      apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
      throttle,
      quota,
    });
    plan.addApiKey(key);
    this.senders.set(id, key);
    return key;
  }

  /**
   * Issues a client certificate for one sender from the gateway's managed client CA
   * (`domain.mtls.managedCa`), into the sender's own Secrets Manager secret. Let a source accept
   * it with `WebhookAuth.mtls({ clients: [client] })`.
   *
   * @param id the sender's construct id, such as `Inventory`; also the certificate's default CN
   * @param options the certificate's names, validity and expiry warning
   */
  public addMtlsClient(id: string, options: MtlsClientOptions = {}): MtlsClient {
    const ca = managedClientCaOf(this, `${this.owner}: mTLS client '${id}'`);
    if (this.mtlsClientsScope === undefined) {
      this.mtlsClientsScope = new Construct(this, 'MtlsClients');
      // Every 6 hours, the days to expiry of every client certificate, in use or not, so that each
      // client's expiry alarm also watches a sender that is quiet.
      new events.Rule(this.mtlsClientsScope, 'ExpiryCheck', {
        description: `Reports the days to expiry of the mTLS client certificates of ${this.node.path}`,
        schedule: events.Schedule.rate(Duration.hours(6)),
        targets: [new targets.LambdaFunction(ca.provider, {
          event: events.RuleTargetInput.fromObject({
            Kind: 'expiryCheck',
            Certificates: Lazy.any({ produce: () => this.mtlsClients.map((c) => ({ SerialNumber: c.serialNumber, NotAfter: c.notAfter })) }),
          }),
          retryAttempts: 2,
        })],
      });
    }
    const client = new MtlsClient(this.mtlsClientsScope, id, { ...options, gateway: this });
    this.mtlsClients.push(client);
    return client;
  }

  /** The managed CA: its secret, the custom resource that creates it and writes the truststore. */
  private createManagedCa(bucket: s3.IBucket, commonName: string, validityDays: number, validityUnresolved: boolean, removalPolicy: RemovalPolicy, logRetention: logs.RetentionDays): string {
    const secret = new secretsmanager.Secret(this, 'ClientCaSecret', {
      description: `Private key and certificate of the mTLS client CA of ${this.node.path}; written by its ClientCa custom resource`,
      removalPolicy,
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'The client CA is not rotated by Secrets Manager: replacing it would invalidate every issued client certificate at once. Client certificates are reissued by deployments instead.',
    });
    const provider = newHandlerFunction(this, {
      name: 'ClientCaProvider',
      description: `Creates the mTLS client CA of ${this.node.path} and issues its client certificates`,
      code: lambda.Code.fromAsset(handlerDir('mtls-ca')),
      config: { version: 1 },
      serviceName: `${this.node.id}ClientCa`,
      logRetention,
      timeout: Duration.minutes(1),
    });
    const resource = new CustomResource(this, 'ClientCa', {
      serviceToken: provider.functionArn,
      resourceType: 'Custom::WebhookGatewayClientCa',
      properties: {
        Kind: 'ca',
        CaSecretArn: secret.secretArn,
        TruststoreBucket: bucket.bucketName,
        TruststoreKey: TRUSTSTORE_KEY,
        CommonName: commonName,
        ValidityDays: String(validityDays),
      },
    });
    // The CA's secret, read and written; the truststore object, read (is it current?) and written.
    iam.Grant.addToPrincipal({
      grantee: provider,
      actions: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
      resourceArns: [secret.secretFullArn ?? `${secret.secretArn}-??????`],
    }).applyBefore(resource);
    iam.Grant.addToPrincipal({
      grantee: provider,
      actions: ['s3:GetObject', 's3:PutObject'],
      resourceArns: [bucket.arnForObjects(TRUSTSTORE_KEY)],
    }).applyBefore(resource);
    registerManagedClientCa(this, { provider, secret, resource, validityDays: validityUnresolved ? undefined : validityDays });
    return resource.getAttString('TruststoreVersion');
  }

  /**
   * The stage's default method throttle, the ceiling of every path's own.
   *
   * @internal
   */
  public get _stageThrottle(): Throttle {
    return this.stageThrottle;
  }

  /**
   * Checks that a path with these limits can be mounted, before its source or trigger builds
   * anything.
   *
   * @param owner names the source or trigger in the error
   * @param wafRateLimit the path's own AWS WAF limit, if it sets one
   * @internal
   */
  public _checkPathLimits(owner: string, wafRateLimit?: number): void {
    if (wafRateLimit !== undefined) {
      checkWafRateLimit(owner, 'wafRateLimit', wafRateLimit);
      if (!this.waf?.rateLimited) {
        throw new Error(`${owner}: wafRateLimit needs a gateway whose web ACL it can add a rule to; pass a gateway with waf: WebhookWaf.rateLimit() as 'gateway', or remove wafRateLimit`);
      }
    }
    if (this.waf?.rateLimited && this.routes.size >= WAF_MAX_RATE_BASED_RULES) {
      throw new Error(`${owner}: the gateway ${this.node.path} already mounts ${this.routes.size} paths, and its web ACL (WebhookWaf.rateLimit) holds one rate-based rule per path, at most ${WAF_MAX_RATE_BASED_RULES}; mount this path on another gateway`);
    }
  }

  /**
   * Mounts a POST path that passes each request to `handler` through a Lambda proxy integration.
   * For the webhook sources and triggers of this library.
   *
   * @param path the path under the stage, such as `stripe` or `hooks/github`; each path is
   * mounted once
   * @param handler the function that handles the path's requests
   * @param options `requiredHeader`: a header API Gateway requires before the handler runs,
   * answering 401 when it is missing; `apiKeyRequired`: whether callers must send an API key of a
   * sender (see `addSender`); `throttle`: the path's own method throttle, checked by its caller
   * (else the stage default applies); `wafRateLimit`: the path's own limit in the web ACL
   * @internal
   */
  public _addWebhookRoute(
    path: string,
    handler: lambda.IFunction,
    options: { readonly requiredHeader?: string; readonly apiKeyRequired?: boolean; readonly throttle?: Throttle; readonly wafRateLimit?: number } = {},
  ): apigw.Method {
    if (!Token.isUnresolved(path) && !WEBHOOK_PATH.test(path)) {
      throw new Error(`${this.owner}: a webhook path must be one or more URL-safe segments separated by '/', such as 'stripe' or 'hooks/github', got '${path}'`);
    }
    if (this.routes.has(path)) {
      throw new Error(`${this.owner}: path '${path}' is already mounted by ${this.routes.get(path)!.node.path}; give each webhook source or trigger its own path`);
    }
    const header = options.requiredHeader;
    if (header !== undefined && !Token.isUnresolved(header) && !HEADER_NAME.test(header)) {
      throw new Error(`${this.owner}: requiredHeader of path '${path}' must be an HTTP header name such as 'Stripe-Signature', got '${header}'`);
    }
    this._checkPathLimits(`${this.owner}: path '${path}'`, options.wafRateLimit);

    const resource = this.api.root.resourceForPath(path);
    const method = resource.addMethod('POST', new apigw.LambdaIntegration(handler, { proxy: true }), {
      apiKeyRequired: options.apiKeyRequired ?? false,
      requestParameters: header !== undefined ? { [`method.request.header.${header}`]: true } : undefined,
      requestValidator: header !== undefined ? this.requestParameterValidator() : undefined,
    });
    this.routes.set(path, method);
    this.routeLimits.set(path, { throttle: options.throttle, wafRateLimit: options.wafRateLimit });
    return method;
  }

  /**
   * The URL senders POST to for a mounted path: on the custom domain when one is configured,
   * else on the execute-api endpoint.
   *
   * @param path the path under the stage, such as `stripe` or `hooks/github`
   */
  public urlForPath(path: string): string {
    if (!Token.isUnresolved(path) && !WEBHOOK_PATH.test(path)) {
      throw new Error(`${this.owner}: urlForPath needs a path of one or more URL-safe segments separated by '/', such as 'stripe' or 'hooks/github', got '${path}'`);
    }
    return this.domainName !== undefined ? `https://${this.domainName}/${path}` : this.api.urlForPath(`/${path}`);
  }

  /**
   * The URL of a mounted path on the custom domain, which is mapped at its root, when the gateway
   * has a custom domain that names one host (not a wildcard). A signature over the URL (Twilio's)
   * is checked against it. Undefined otherwise.
   *
   * @internal
   */
  public _customDomainUrlForPath(path: string): string | undefined {
    const name = this.domainName;
    if (name === undefined || (!Token.isUnresolved(name) && name.startsWith('*.'))) return undefined;
    return `https://${name}/${path}`;
  }

  /**
   * The number of requests answered with a 4XX status, including API Gateway's own 401, 403 and
   * 429 answers, on this API's stage.
   *
   * Statistic: Sum. Period: 5 minutes.
   */
  public metricClientError(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.api.deploymentStage.metricClientError(props);
  }

  /**
   * The number of requests answered with a 5XX status on this API's stage.
   *
   * Statistic: Sum. Period: 5 minutes.
   */
  public metricServerError(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.api.deploymentStage.metricServerError(props);
  }

  /**
   * The time from when API Gateway receives a request to when it answers, in milliseconds, on
   * this API's stage. The 99th percentile shows what the slowest deliveries see, which is what
   * runs into senders' timeouts (GitHub waits 10 seconds).
   *
   * Statistic: p99. Period: 5 minutes.
   */
  public metricLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.api.deploymentStage.metricLatency({ statistic: 'p99', ...props });
  }

  /** The one validator of this API, created for the first path that requires a header. */
  private requestParameterValidator(): apigw.RequestValidator {
    if (!this.requireParameters) {
      this.requireParameters = new apigw.RequestValidator(this, 'RequireParameters', {
        restApi: this.api,
        validateRequestParameters: true,
        validateRequestBody: false,
      });
      // The only required parameters are signature headers, so a missing one means 401.
      this.api.addGatewayResponse('MissingSignature', {
        type: apigw.ResponseType.BAD_REQUEST_PARAMETERS,
        statusCode: '401',
        templates: {
          'application/json': '{"error":"MissingCredentials","message":$context.error.messageString,"correlationId":"$context.requestId"}',
        },
      });
    }
    return this.requireParameters;
  }
}

/** Copies the truststore file into the bucket during deployment; returns the copy's version. */
function copyTruststore(scope: Construct, bucket: s3.IBucket, truststoreFile: string): string {
  const source = new s3assets.Asset(scope, 'TruststoreFile', { path: truststoreFile });
  const upload = new cr.AwsCustomResource(scope, 'TruststoreUpload', {
    resourceType: 'Custom::WebhookGatewayTruststore',
    // Runs on create, and again whenever the file (so its asset key) changes.
    onUpdate: {
      service: 'S3',
      action: 'CopyObject',
      parameters: {
        Bucket: bucket.bucketName,
        Key: TRUSTSTORE_KEY,
        CopySource: `${source.s3BucketName}/${source.s3ObjectKey}`,
        ContentType: 'application/x-pem-file',
        MetadataDirective: 'REPLACE',
      },
      physicalResourceId: cr.PhysicalResourceId.of(`${scope.node.addr}-truststore`),
      outputPaths: ['VersionId'],
    },
    policy: cr.AwsCustomResourcePolicy.fromStatements([
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [source.bucket.arnForObjects(source.s3ObjectKey)] }),
      new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [bucket.arnForObjects(TRUSTSTORE_KEY)] }),
    ]),
    installLatestAwsSdk: false,
  });

  // The copy runs in aws-cdk's AwsCustomResource provider, one Lambda function per stack.
  const providerRole = upload.grantPrincipal;
  if (Construct.isConstruct(providerRole)) {
    Validations.of(providerRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: "This is aws-cdk's AwsCustomResource provider, shared by the stack. The managed policy only lets it write its own logs; the truststore copy adds s3:GetObject on the one asset object and s3:PutObject on the one truststore key.",
    });
  }
  return upload.getResponseField('VersionId');
}

/** Reads and checks the truststore, returning its absolute path. */
function readTruststore(scope: Construct, owner: string, truststorePath: string): string {
  const file = nodePath.resolve(truststorePath);
  let size: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new Error('not a file');
    size = stat.size;
  } catch {
    throw new Error(`${owner}: domain.mtls.truststorePath must be a PEM file of CA certificates, but '${file}' is not a file; fix the path`);
  }
  if (size > TRUSTSTORE_MAX_BYTES) {
    throw new Error(`${owner}: the truststore '${file}' is ${size} bytes; API Gateway takes at most 1 MB. Keep only the CAs that issue your callers' certificates`);
  }
  const text = readFileSync(file, 'utf8');
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
    throw new Error(`${owner}: the truststore '${file}' contains a private key, which must never be uploaded; keep only the CA certificates`);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw new Error(`${owner}: the truststore '${file}' contains no PEM certificate ('-----BEGIN CERTIFICATE-----'); export your CA certificates in PEM format`);
  }
  if (blocks.length > TRUSTSTORE_MAX_CERTIFICATES) {
    throw new Error(`${owner}: the truststore '${file}' holds ${blocks.length} certificates; API Gateway takes at most ${TRUSTSTORE_MAX_CERTIFICATES}`);
  }
  blocks.forEach((block, i) => {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(block);
    } catch (e) {
      throw new Error(`${owner}: certificate ${i + 1} of the truststore '${file}' does not parse (${(e as Error).message}); export it again in PEM format`);
    }
    if (new Date(certificate.validTo).getTime() < Date.now()) {
      Annotations.of(scope).addWarningV2('cdk-webhook-ingress:truststoreCertificateExpired', `${owner}: certificate ${i + 1} of the truststore (${certificate.subject.replace(/\n/g, ', ')}) expired on ${certificate.validTo}; API Gateway will report a truststore warning`);
    }
    if (!certificate.ca) {
      Annotations.of(scope).addWarningV2('cdk-webhook-ingress:truststoreCertificateNotCa', `${owner}: certificate ${i + 1} of the truststore (${certificate.subject.replace(/\n/g, ', ')}) is not a CA certificate; the truststore should hold the CAs that issue client certificates`);
    }
  });
  return file;
}

/**
 * A method setting's resource path: the path after a leading '/', with each of its own '/'
 * written '~1': `hooks/github` is `/~1hooks~1github`. (A path part cannot hold a '~'.)
 *
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-apigateway-stage-methodsetting.html
 */
function methodSettingPath(path: string): string {
  return `/~1${path.replace(/\//g, '~1')}`;
}

/** Whether `range` is an IPv4 or IPv6 CIDR block. */
function isCidr(range: string): boolean {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(range);
  if (!match) return false;
  const [, address, prefix] = match;
  const bits = Number(prefix);
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) {
    return address.split('.').every((octet) => Number(octet) <= 255 && String(Number(octet)) === octet) && bits <= 32;
  }
  return address.includes(':') && isIpv6(address) && bits <= 128;
}

function isIpv6(address: string): boolean {
  // The forms IAM accepts: eight groups, or fewer with one '::'.
  if (!/^[0-9A-Fa-f:]+$/.test(address)) return false;
  const halves = address.split('::');
  if (halves.length > 2) return false;
  const groups = halves.map((half) => (half === '' ? [] : half.split(':')));
  if (groups.some((g) => g.some((group) => !/^[0-9A-Fa-f]{1,4}$/.test(group)))) return false;
  const count = groups.reduce((n, g) => n + g.length, 0);
  return halves.length === 2 ? count <= 7 : count === 8;
}

/** Allows invoking this API, and denies it to every address outside the ranges. */
function allowlistPolicy(ranges: string[]): iam.PolicyDocument {
  // 'execute-api:/*' is API Gateway's name for every method of the API the policy is attached
  // to; the API's own ARN cannot be used, because the policy is part of the API.
  return new iam.PolicyDocument({
    statements: [
      new iam.PolicyStatement({
        effect: iam.Effect.ALLOW,
        principals: [new iam.AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: ['execute-api:/*'],
      }),
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['execute-api:Invoke'],
        resources: ['execute-api:/*'],
        conditions: { NotIpAddress: { 'aws:SourceIp': ranges } },
      }),
    ],
  });
}
