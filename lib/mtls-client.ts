import { Annotations, CustomResource, Duration, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, type IConstruct } from 'constructs';
import { managedClientCaOf } from './private/managed-client-ca';

/**
 * What issues the certificate of an {@link MtlsClient}: a `WebhookGateway` with
 * `domain.mtls.managedCa` (any other gateway is refused at synth).
 */
export interface IMtlsClientIssuer extends IConstruct {}

/** Options for `WebhookGateway.addMtlsClient`. */
export interface MtlsClientOptions {
  /**
   * The certificate's common name (CN): letters, digits, spaces, `.`, `_` and `-`, at most 64.
   *
   * @default - the client's construct id
   */
  readonly commonName?: string;

  /**
   * The certificate's organization (O), with the same characters as `commonName`.
   *
   * @default - none
   */
  readonly organization?: string;

  /**
   * How long the certificate is valid, in whole days from 1 to 825. Never past the CA's own
   * expiry: a certificate issued when the CA has less time left ends when the CA ends (its
   * `notAfter` says so, and its expiry alarm watches that date), and synthesis warns when the
   * validity is longer than the CA's whole validity (`managedCa.validity`).
   *
   * @default Duration.days(365)
   */
  readonly validity?: Duration;

  /**
   * How long before the certificate expires its alarm goes off. The gateway reports every client
   * certificate's days to expiry every 6 hours, and the handlers on each request it authenticates.
   *
   * @default Duration.days(30)
   */
  readonly expiryWarning?: Duration;

  /**
   * Raise to issue a new certificate with the same options, for a key that leaked: the old
   * certificate is refused (403) as soon as the deployment completes. To renew without a refused
   * delivery, add the next certificate as another client, accept both, and remove the old one once
   * the sender has moved.
   *
   * @default 0
   */
  readonly generation?: number;
}

/** Properties of an {@link MtlsClient}. */
export interface MtlsClientProps extends MtlsClientOptions {
  /** The gateway whose managed client CA issues the certificate. It must have `domain.mtls.managedCa`. */
  readonly gateway: IMtlsClientIssuer;
}

const NAME_PART = /^[A-Za-z0-9 ._-]{1,64}$/;
const DEFAULT_VALIDITY = Duration.days(365);
const DEFAULT_EXPIRY_WARNING = Duration.days(30);

/**
 * A client certificate issued by a `WebhookGateway`'s managed client CA, for one sender.
 *
 * The certificate, its private key and the CA certificate are written to the sender's own
 * Secrets Manager secret (`secret`) as JSON: `certificate`, `privateKey`, `caCertificate`,
 * `serialNumber`, `subject`, `notAfter`. The key is generated in a custom resource Lambda and never
 * appears in the template, an asset or a log. A deployment that leaves the options unchanged
 * issues nothing; changed options (or `generation`) issue a new certificate, and removing the
 * client revokes its certificate: sources that list it with `WebhookAuth.mtls({ clients })` accept
 * only current serial numbers.
 */
export class MtlsClient extends Construct {
  /** The secret that holds this sender's certificate and key; hand it to the sender's operators. */
  public readonly secret: secretsmanager.ISecret;

  /** The certificate's serial number, lower-case hex (a deploy-time value). */
  public readonly serialNumber: string;

  /** When the certificate expires, ISO 8601 (a deploy-time value). */
  public readonly notAfter: string;

  /** The certificate's common name. */
  public readonly commonName: string;

  /** The gateway whose CA issued the certificate. */
  public readonly gateway: IMtlsClientIssuer;

  /** Goes off `expiryWarning` before the certificate expires. */
  public readonly expiryAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: MtlsClientProps) {
    super(scope, id);
    const owner = `MtlsClient '${this.node.path}'`;
    const commonName = props.commonName ?? id;
    for (const [what, value] of [['commonName', commonName], ['organization', props.organization]] as const) {
      if (value !== undefined && !Token.isUnresolved(value) && !NAME_PART.test(value)) {
        throw new Error(`${owner}: ${what} must be 1 to 64 letters, digits, spaces, '.', '_' or '-', got '${value}'`);
      }
    }
    const validity = props.validity ?? DEFAULT_VALIDITY;
    const validityDays = validity.toDays({ integral: false });
    if (!validity.isUnresolved() && (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > 825)) {
      throw new Error(`${owner}: validity must be a whole number of days from 1 to 825, got ${validity.toHumanString()}`);
    }
    const warning = props.expiryWarning ?? DEFAULT_EXPIRY_WARNING;
    const warningDays = warning.toDays({ integral: false });
    if (!warning.isUnresolved() && !validity.isUnresolved() && (warningDays <= 0 || warningDays >= validityDays)) {
      throw new Error(`${owner}: expiryWarning must be more than 0 and less than the validity (${validity.toHumanString()}), got ${warning.toHumanString()}`);
    }
    const generation = props.generation ?? 0;
    if (!Token.isUnresolved(generation) && (!Number.isInteger(generation) || generation < 0)) {
      throw new Error(`${owner}: generation must be a whole number of at least 0, got ${generation}`);
    }
    const ca = managedClientCaOf(props.gateway, owner);
    if (ca.validityDays !== undefined && !validity.isUnresolved() && validityDays > ca.validityDays) {
      Annotations.of(this).addWarningV2(
        'cdk-webhook-ingress:clientCertificateOutlivesCa',
        `${owner}: validity is ${validity.toHumanString()}, longer than the gateway's managed CA is valid (${ca.validityDays} days); the certificate ends when the CA does. Shorten validity, or lengthen domain.mtls.managedCa.validity (it applies to a CA created anew)`,
      );
    }

    this.gateway = props.gateway;
    this.commonName = commonName;
    const secret = new secretsmanager.Secret(this, 'Secret', {
      description: `Client certificate and private key of mTLS sender ${commonName} of ${props.gateway.node.path}; written by its Certificate custom resource`,
    });
    this.secret = secret;
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'A client certificate is not rotated by Secrets Manager: it is reissued by a deployment (options or generation changed), and the old serial number is refused from then on.',
    });

    const certificate = new CustomResource(this, 'Certificate', {
      serviceToken: ca.provider.functionArn,
      resourceType: 'Custom::WebhookGatewayMtlsClient',
      properties: {
        Kind: 'client',
        CaSecretArn: ca.secret.secretArn,
        ClientSecretArn: secret.secretArn,
        CommonName: commonName,
        ...(props.organization === undefined ? {} : { Organization: props.organization }),
        ValidityDays: String(validityDays),
        Generation: String(generation),
      },
    });
    certificate.node.addDependency(ca.resource);
    // Issue into this secret only: read (an update that changes nothing) and write.
    const grant = iam.Grant.addToPrincipal({
      grantee: ca.provider,
      actions: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
      resourceArns: [secret.secretFullArn ?? `${secret.secretArn}-??????`],
    });
    grant.applyBefore(certificate);

    this.serialNumber = certificate.getAttString('SerialNumber');
    this.notAfter = certificate.getAttString('NotAfter');
    this.expiryAlarm = new cloudwatch.Alarm(this, 'ExpiryAlarm', {
      alarmDescription: `The mTLS client certificate ${commonName} of ${props.gateway.node.path} expires in less than ${warning.toHumanString()}. Add the next certificate as another client, accept both, let the sender move to it, then remove this client (see the README's runbook).`,
      metric: this.metricDaysToExpiry(),
      threshold: warningDays,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      // Until the first scheduled check (up to 6 hours after deployment) there is no data: the
      // alarm shows INSUFFICIENT_DATA then, and again if the check ever stops, rather than OK.
      treatMissingData: cloudwatch.TreatMissingData.MISSING,
    });
  }

  /**
   * Days until the certificate expires (EMF, namespace `CdkWebhookIngress`, dimension
   * `ClientCertificateSerial`): reported every 6 hours by the gateway's scheduled check, and on
   * each request the certificate authenticates.
   *
   * Statistic: Minimum. Period: 6 hours.
   */
  public metricDaysToExpiry(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'CdkWebhookIngress',
      metricName: 'ClientCertificateDaysToExpiry',
      dimensionsMap: { ClientCertificateSerial: this.serialNumber },
      statistic: cloudwatch.Stats.MINIMUM,
      period: Duration.hours(6),
      ...props,
    });
  }

  /** Lets a principal read the certificate and its key, such as a sender's role in this account. */
  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.secret.grantRead(grantee);
  }
}
