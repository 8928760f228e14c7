import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { AwsSolutionsChecks } from 'cdk-nag';
import { WebhookAuth, WebhookGateway, WebhookStreamSource, type ManagedClientCaOptions, type MtlsClient } from '../../lib';
import { acknowledgements } from '../support/nag';

const STRICT = { '@aws-cdk/core:strictCfnValidateErrors': true };
const CERTIFICATE_ARN = 'arn:aws:acm:eu-west-1:111111111111:certificate/1234abcd-12ab-34cd-56ef-1234567890ab';

function newStack(app = new App({ context: STRICT })): Stack {
  return new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
}

function managedGateway(stack: Stack, id = 'Gateway', managedCa: ManagedClientCaOptions = {}): WebhookGateway {
  return new WebhookGateway(stack, id, {
    domain: {
      domainName: `${id.toLowerCase()}.example.com`,
      certificate: acm.Certificate.fromCertificateArn(stack, `${id}Certificate`, CERTIFICATE_ARN),
      mtls: { managedCa: { commonName: 'Example internal CA', ...managedCa } },
    },
  });
}

/** The CloudFormation resource of the gateway's CA secret. */
function caSecretResource(template: Template): { DeletionPolicy?: string; UpdateReplacePolicy?: string } {
  const secrets = Object.entries(template.findResources('AWS::SecretsManager::Secret')).filter(([id]) => id.startsWith('GatewayClientCaSecret'));
  expect(secrets).toHaveLength(1);
  return secrets[0][1] as { DeletionPolicy?: string; UpdateReplacePolicy?: string };
}

/** A gateway with a managed CA, one client, and a source that accepts only that client. */
function managedApp(stack: Stack): { gateway: WebhookGateway; client: MtlsClient; source: WebhookStreamSource } {
  const gateway = managedGateway(stack);
  const client = gateway.addMtlsClient('Inventory', { organization: 'Example Corp', validity: Duration.days(90), expiryWarning: Duration.days(14) });
  const source = new WebhookStreamSource(stack, 'InventorySource', {
    gateway,
    path: 'inventory',
    auth: WebhookAuth.mtls({ clients: [client] }),
    stream: new kinesis.Stream(stack, 'Stream', { encryption: kinesis.StreamEncryption.MANAGED }),
  });
  return { gateway, client, source };
}

function logicalIdOf(template: Template, type: string): string {
  const ids = Object.keys(template.findResources(type));
  expect(ids).toHaveLength(1);
  return ids[0];
}

describe('WebhookGateway managed client CA', () => {
  test('creates the CA in its own secret and pins the domain to the truststore version it writes', () => {
    // GIVEN a gateway with a managed CA and one client
    const stack = newStack();
    managedApp(stack);
    const template = Template.fromStack(stack);

    // THEN a custom resource creates the CA into a secret and writes the truststore object
    const caResource = logicalIdOf(template, 'Custom::WebhookGatewayClientCa');
    const caSecret = Object.keys(template.findResources('AWS::SecretsManager::Secret')).find((id) => id.startsWith('GatewayClientCaSecret'))!;
    const bucket = logicalIdOf(template, 'AWS::S3::Bucket');
    template.hasResourceProperties('Custom::WebhookGatewayClientCa', {
      Kind: 'ca',
      CaSecretArn: { Ref: caSecret },
      TruststoreBucket: { Ref: bucket },
      TruststoreKey: 'truststore.pem',
      CommonName: 'Example internal CA',
      ValidityDays: '3650',
    });
    template.hasResourceProperties('AWS::S3::Bucket', { VersioningConfiguration: { Status: 'Enabled' } });
    // The private key is never in the template: the secret starts with a generated placeholder.
    template.hasResourceProperties('AWS::SecretsManager::Secret', { Description: Match.stringLikeRegexp('client CA'), GenerateSecretString: {} });
    expect(JSON.stringify(template.toJSON())).not.toMatch(/PRIVATE KEY/);

    // AND the domain trusts exactly that object version, with the default endpoint off
    template.hasResourceProperties('AWS::ApiGateway::DomainName', {
      MutualTlsAuthentication: {
        TruststoreUri: { 'Fn::Join': ['', ['s3://', { Ref: bucket }, '/truststore.pem']] },
        TruststoreVersion: { 'Fn::GetAtt': [caResource, 'TruststoreVersion'] },
      },
    });
    template.hasResourceProperties('AWS::ApiGateway::RestApi', { DisableExecuteApiEndpoint: true });
  });

  test('issues each client into its own secret, after the CA, and exposes its serial and expiry', () => {
    const stack = newStack();
    const { client } = managedApp(stack);
    const template = Template.fromStack(stack);
    const caResource = logicalIdOf(template, 'Custom::WebhookGatewayClientCa');
    const clientSecret = Object.keys(template.findResources('AWS::SecretsManager::Secret')).find((id) => id.includes('Inventory'))!;

    const [clientId, resource] = Object.entries(template.findResources('Custom::WebhookGatewayMtlsClient'))[0];
    expect(resource.Properties).toMatchObject({
      Kind: 'client',
      ClientSecretArn: { Ref: clientSecret },
      CommonName: 'Inventory',
      Organization: 'Example Corp',
      ValidityDays: '90',
      Generation: '0',
    });
    // Issued only once the CA exists and the provider may write this client's secret.
    expect(resource.DependsOn).toEqual(expect.arrayContaining([caResource, expect.stringMatching(/^GatewayClientCaProviderRoleDefaultPolicy/)]));
    expect(stack.resolve(client.serialNumber)).toEqual({ 'Fn::GetAtt': [clientId, 'SerialNumber'] });
    expect(stack.resolve(client.notAfter)).toEqual({ 'Fn::GetAtt': [clientId, 'NotAfter'] });
  });

  test('the provider may touch only the CA secret, the client secrets and the truststore object', () => {
    const stack = newStack();
    managedApp(stack);
    const template = Template.fromStack(stack);
    const bucket = logicalIdOf(template, 'AWS::S3::Bucket');
    const policies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith('GatewayClientCaProviderRole'));
    expect(policies).toHaveLength(1);
    const statements = stack.resolve(policies[0][1].Properties.PolicyDocument.Statement) as { Action: string | string[]; Resource: unknown }[];
    const byAction = statements.map((s) => [([] as string[]).concat(s.Action).sort().join(','), JSON.stringify(s.Resource)]);
    expect(byAction).toEqual(expect.arrayContaining([
      ['logs:CreateLogStream,logs:PutLogEvents', expect.stringContaining('GatewayClientCaProviderLogs')],
      ['secretsmanager:GetSecretValue,secretsmanager:PutSecretValue', expect.stringContaining('GatewayClientCaSecret')],
      ['secretsmanager:GetSecretValue,secretsmanager:PutSecretValue', expect.stringContaining('MtlsClientsInventorySecret')],
      ['s3:GetObject,s3:PutObject', JSON.stringify({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/truststore.pem']] })],
    ]));
    expect(byAction).toHaveLength(4);
    expect(JSON.stringify(statements)).not.toMatch(/"\*"/);
  });

  test('a source that lists clients accepts only their current serial numbers, and a missing certificate is 403', () => {
    const stack = newStack();
    managedApp(stack);
    const template = Template.fromStack(stack);
    const clientId = logicalIdOf(template, 'Custom::WebhookGatewayMtlsClient');
    const fn = Object.values(template.findResources('AWS::Lambda::Function')).find((f) => JSON.stringify(f).includes('"source\\":\\"InventorySource'))!;
    const config = JSON.stringify(fn.Properties.Environment.Variables.WEBHOOK_INGRESS_CONFIG);
    expect(config).toContain(`"allowedSerialNumbers\\":[\\"",{"Fn::GetAtt":["${clientId}","SerialNumber"]}`);
    expect(config).toContain('\\"managed\\":true');
  });

  test('warns before expiry with an alarm on the days to expiry the handlers report', () => {
    const stack = newStack();
    managedApp(stack);
    const template = Template.fromStack(stack);
    const clientId = logicalIdOf(template, 'Custom::WebhookGatewayMtlsClient');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'CdkWebhookIngress',
      MetricName: 'ClientCertificateDaysToExpiry',
      Dimensions: [{ Name: 'ClientCertificateSerial', Value: { 'Fn::GetAtt': [clientId, 'SerialNumber'] } }],
      Statistic: 'Minimum',
      Threshold: 14,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'missing',
      Period: 21600,
    });
  });

  test('reports every client\'s days to expiry every 6 hours, so a quiet sender is watched too', () => {
    const stack = newStack();
    const { gateway } = managedApp(stack);
    gateway.addMtlsClient('Billing');
    const template = Template.fromStack(stack);
    const clients = Object.keys(template.findResources('Custom::WebhookGatewayMtlsClient')).sort();
    expect(clients).toHaveLength(2);
    const rules = template.findResources('AWS::Events::Rule');
    expect(Object.keys(rules)).toHaveLength(1);
    const rule = Object.values(rules)[0].Properties;
    expect(rule.ScheduleExpression).toBe('rate(6 hours)');
    const provider = Object.keys(template.findResources('AWS::Lambda::Function')).find((id) => id.startsWith('GatewayClientCaProvider'))!;
    expect(rule.Targets[0].Arn).toEqual({ 'Fn::GetAtt': [provider, 'Arn'] });
    const input = JSON.stringify(rule.Targets[0].Input);
    for (const id of clients) {
      expect(input).toContain(`{\\"SerialNumber\\":\\"",{"Fn::GetAtt":["${id}","SerialNumber"]},"\\",\\"NotAfter\\":\\"",{"Fn::GetAtt":["${id}","NotAfter"]}`);
    }
    expect(input).toContain('expiryCheck');
    template.hasResourceProperties('AWS::Lambda::Permission', { Principal: 'events.amazonaws.com', FunctionName: { 'Fn::GetAtt': [provider, 'Arn'] } });
  });

  test('has no unacknowledged cdk-nag finding, and every acknowledgement gives its reason', () => {
    const app = new App({ context: STRICT, outdir: mkdtempSync(join(tmpdir(), 'nag-')) });
    const stack = newStack(app);
    const { gateway } = managedApp(stack);
    Validations.of(gateway.api).acknowledge({ id: 'AwsSolutions-APIG3', reason: 'Callers need a client certificate of the managed CA; this test does not pay for a web ACL.' });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
    for (const ack of acknowledgements(app)) expect(ack.reason.length).toBeGreaterThan(40);
    expect(acknowledgements(app).map((a) => a.id)).toEqual(expect.arrayContaining(['AwsSolutions-SMG4']));
  });

  describe('what outlives what', () => {
    test('the CA\'s secret is retained by default: deleting the stack or replacing the secret does not revoke every sender', () => {
      // GIVEN a gateway with a managed CA and no removal policy
      const stack = newStack();
      managedApp(stack);
      // THEN CloudFormation keeps the CA's secret on delete and on replacement
      expect(caSecretResource(Template.fromStack(stack))).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
      // AND the truststore bucket, which holds the CA certificate, is retained too
      const buckets = Object.values(Template.fromStack(stack).findResources('AWS::S3::Bucket'));
      expect(buckets).toEqual([expect.objectContaining({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' })]);
    });

    test('removalPolicy DESTROY deletes the CA\'s secret with the stack', () => {
      const stack = newStack();
      const gateway = managedGateway(stack, 'Gateway', { removalPolicy: RemovalPolicy.DESTROY });
      new WebhookStreamSource(stack, 'Source', { gateway, auth: WebhookAuth.mtls({ clients: [gateway.addMtlsClient('Inventory')] }), path: 'inventory' });
      expect(caSecretResource(Template.fromStack(stack))).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    });

    test('fails when the CA\'s removalPolicy is SNAPSHOT', () => {
      const stack = newStack();
      expect(() => managedGateway(stack, 'Gateway', { removalPolicy: RemovalPolicy.SNAPSHOT }))
        .toThrow(/WebhookGateway 'Test\/Gateway': domain.mtls.managedCa.removalPolicy cannot be RemovalPolicy.SNAPSHOT: a Secrets Manager secret has no snapshot. Use RemovalPolicy.RETAIN \(the default\) or RemovalPolicy.DESTROY/);
    });

    test('warns when a client\'s validity is longer than the CA\'s, since the certificate ends with the CA', () => {
      // GIVEN a CA valid 180 days
      const stack = newStack();
      const gateway = managedGateway(stack, 'Gateway', { validity: Duration.days(180) });
      // WHEN one client asks for a year and another for 90 days
      gateway.addMtlsClient('Long', { validity: Duration.days(365) });
      gateway.addMtlsClient('Short', { validity: Duration.days(90) });
      new WebhookStreamSource(stack, 'Source', { gateway, auth: WebhookAuth.mtls(), path: 'inventory' });
      // THEN only the first is warned about, naming both validities and the fix
      const annotations = Annotations.fromStack(stack);
      annotations.hasWarning('/Test/Gateway/MtlsClients/Long', Match.stringLikeRegexp(
        "MtlsClient 'Test/Gateway/MtlsClients/Long': validity is 365 days, longer than the gateway's managed CA is valid \\(180 days\\); the certificate ends when the CA does. Shorten validity, or lengthen domain.mtls.managedCa.validity"));
      annotations.hasNoWarning('/Test/Gateway/MtlsClients/Short', Match.stringLikeRegexp('longer than the gateway\'s managed CA'));
    });
  });

  describe('validation', () => {
    test('fails when mtls has both or neither of truststorePath and managedCa', () => {
      const stack = newStack();
      const certificate = acm.Certificate.fromCertificateArn(stack, 'Certificate', CERTIFICATE_ARN);
      expect(() => new WebhookGateway(stack, 'Neither', { domain: { domainName: 'a.example.com', certificate, mtls: {} } }))
        .toThrow(/WebhookGateway 'Test\/Neither': domain.mtls needs exactly one of truststorePath .* and managedCa .*, got neither/);
      expect(() => new WebhookGateway(stack, 'Both', { domain: { domainName: 'b.example.com', certificate, mtls: { truststorePath: 'x.pem', managedCa: {} } } }))
        .toThrow(/got both/);
    });

    test('fails when a client is added to a gateway without a managed CA', () => {
      const stack = newStack();
      const plain = new WebhookGateway(stack, 'Plain');
      expect(() => plain.addMtlsClient('Inventory')).toThrow(/the gateway Test\/Plain has no managed client CA; set domain.mtls.managedCa/);
    });

    test('warns when a source on a managed-CA gateway lists no clients, since revocation would not reach it', () => {
      const stack = newStack();
      const gateway = managedGateway(stack);
      new WebhookStreamSource(stack, 'Any', { gateway, auth: WebhookAuth.mtls() });
      Annotations.fromStack(stack).hasWarning('/Test/Any', Match.stringLikeRegexp('lists no clients, so it also accepts removed or reissued clients'));
    });

    test('fails when a source lists a client of another gateway', () => {
      const stack = newStack();
      const first = managedGateway(stack, 'First');
      const second = managedGateway(stack, 'Second');
      const client = first.addMtlsClient('Inventory');
      expect(() => new WebhookStreamSource(stack, 'Source', { gateway: second, auth: WebhookAuth.mtls({ clients: [client] }) }))
        .toThrow(/the mTLS client 'Test\/First\/MtlsClients\/Inventory' was issued by the CA of gateway 'Test\/First'; a source accepts only clients of its own gateway \('Test\/Second'\)/);
    });

    test('fails on names that would change the subject, and on validity out of range', () => {
      const stack = newStack();
      const gateway = managedGateway(stack);
      expect(() => gateway.addMtlsClient('A', { commonName: 'evil,O=Other' })).toThrow(/commonName must be 1 to 64 letters, digits, spaces, '.', '_' or '-', got 'evil,O=Other'/);
      expect(() => gateway.addMtlsClient('B', { validity: Duration.days(900) })).toThrow(/validity must be a whole number of days from 1 to 825, got 900 days/);
      expect(() => gateway.addMtlsClient('C', { validity: Duration.days(30), expiryWarning: Duration.days(30) })).toThrow(/expiryWarning must be more than 0 and less than the validity/);
      expect(() => WebhookAuth.mtls({ clients: [] })._bind('x')).toThrow(/clients must list at least one MtlsClient/);
    });
  });
});
