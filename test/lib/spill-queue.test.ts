import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CONFIG_ENV_VAR } from '../../lambda/common/config-document';
import { DRAIN_CONFIG_VERSION, parseDrainConfig } from '../../lambda/drain/config';
import { SQS_LIMITS } from '../../lambda/ingest/spill';
import { SpillQueue, type SpillQueueProps } from '../../lib/private/spill-queue';
import { resolveCfn } from '../../cli/local/cfn';
import { acknowledgements } from '../support/nag';

function newStack(app = new App({ context: { '@aws-cdk/core:strictCfnValidateErrors': true } })): Stack {
  // Strict: the synthesized template is validated against the CloudFormation schema.
  return new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
}

function spillQueue(stack: Stack, props: Partial<SpillQueueProps> = {}): { spill: SpillQueue; stream: kinesis.Stream } {
  const stream = new kinesis.Stream(stack, 'Stream', { streamMode: kinesis.StreamMode.ON_DEMAND, encryption: kinesis.StreamEncryption.MANAGED });
  const spill = new SpillQueue(stack, 'Spill', { streams: [stream], serviceName: 'orders', ...props });
  return { spill, stream };
}

function logicalId(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as never);
}

/** The statements of the one policy attached to a role. */
function statementsOf(template: Template, roleLogicalId: string): unknown[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: [{ Ref: roleLogicalId }] },
  })) as { Properties: { PolicyDocument: { Statement: unknown[] } } }[];
  expect(policies).toHaveLength(1);
  return policies[0].Properties.PolicyDocument.Statement;
}

describe('SpillQueue', () => {
  test('creates a high-throughput FIFO queue with SSE, a FIFO dead-letter queue after 5 receives, and keeps both for 14 days', () => {
    const stack = newStack();
    const { spill } = spillQueue(stack);
    const template = Template.fromStack(stack);

    template.resourceCountIs('AWS::SQS::Queue', 2);
    template.hasResource('AWS::SQS::Queue', {
      Properties: {
        FifoQueue: true,
        DeduplicationScope: 'messageGroup',
        FifoThroughputLimit: 'perMessageGroupId',
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 14 * 24 * 3600,
        MaximumMessageSize: SQS_LIMITS.maxMessageBytes,
        // Six times the drain's 60 s timeout.
        VisibilityTimeout: 360,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(stack, spill.deadLetterQueue), 'Arn'] }, maxReceiveCount: 5 },
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    template.hasResource('AWS::SQS::Queue', {
      Properties: {
        FifoQueue: true,
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 14 * 24 * 3600,
        MaximumMessageSize: SQS_LIMITS.maxMessageBytes,
        RedrivePolicy: Match.absent(),
      },
      DeletionPolicy: 'Retain',
    });
    expect(spill.queue.fifo).toBe(true);
    expect(spill.deadLetterQueue.fifo).toBe(true);
  });

  test('denies every request without TLS on both queues', () => {
    const stack = newStack();
    const { spill } = spillQueue(stack);
    const template = Template.fromStack(stack);
    for (const queue of [spill.queue, spill.deadLetterQueue]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: logicalId(stack, queue) }],
        PolicyDocument: {
          Statement: [{
            Action: 'sqs:*',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: { 'Fn::GetAtt': [logicalId(stack, queue), 'Arn'] },
          }],
        },
      });
    }
  });

  test('encrypts both queues with a customer-managed key when given one', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const { spill } = spillQueue(stack, { encryptionKey: key });
    const template = Template.fromStack(stack);
    const keyArn = { 'Fn::GetAtt': [logicalId(stack, key), 'Arn'] };
    template.allResourcesProperties('AWS::SQS::Queue', { KmsMasterKeyId: keyArn, SqsManagedSseEnabled: Match.absent() });
    // The drain decrypts what it receives, and encrypts the poison messages it sends to the dead-letter queue.
    const statements = statementsOf(template, logicalId(stack, spill.drainFunction.role as iam.Role));
    expect(statements).toContainEqual({ Action: 'kms:Decrypt', Effect: 'Allow', Resource: keyArn });
    expect(statements).toContainEqual({ Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Effect: 'Allow', Resource: keyArn });
  });

  test('creates a Node.js 22 arm64 drain that gets its configuration as one versioned document the drain reads', () => {
    const stack = newStack();
    const { stream } = spillQueue(stack);
    const routed = new kinesis.Stream(stack, 'Routed', { streamMode: kinesis.StreamMode.ON_DEMAND });
    const spill2 = new SpillQueue(stack, 'Spill2', { streams: [stream, routed], serviceName: 'segment', drainTimeout: Duration.minutes(2) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 60,
      LoggingConfig: { LogFormat: 'JSON' },
      Environment: { Variables: { POWERTOOLS_SERVICE_NAME: 'orders' } },
    });
    const functions = Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Timeout: 120 } })) as { Properties: { Environment: { Variables: Record<string, unknown> } } }[];
    expect(functions).toHaveLength(1);
    const variables = resolveCfn(functions[0].Properties.Environment.Variables, (id) => {
      if (id === logicalId(stack, stream)) return 'orders-stream';
      if (id === logicalId(stack, routed)) return 'routed-stream';
      if (id === logicalId(stack, spill2.deadLetterQueue)) return 'https://sqs.eu-west-1.amazonaws.com/111111111111/spill2-dlq.fifo';
      throw new Error(`unexpected reference ${id}`);
    }) as Record<string, string>;
    expect(parseDrainConfig(variables[CONFIG_ENV_VAR])).toEqual({
      version: DRAIN_CONFIG_VERSION,
      streamNames: ['orders-stream', 'routed-stream'],
      deadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/111111111111/spill2-dlq.fifo',
      maxAttempts: 8,
      retryBudgetMs: 20_000,
      // The last call starts 20 s before the 120 s timeout: dead-letter sends come first.
      writeDeadlineMs: 100_000,
    });
    template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 720, RedrivePolicy: Match.anyValue() });
  });

  test('feeds the drain from the queue in batches of 10, reporting failed messages one by one', () => {
    const stack = newStack();
    const { spill } = spillQueue(stack);
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId(stack, spill.queue), 'Arn'] },
      FunctionName: { Ref: logicalId(stack, spill.drainFunction) },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  test('gives the drain its own role holding exactly: its log group, consuming this queue, sending to the dead-letter queue, PutRecords on its streams', () => {
    const stack = newStack();
    const cmk = new kms.Key(stack, 'StreamKey', { enableKeyRotation: true });
    const encrypted = new kinesis.Stream(stack, 'Encrypted', { streamMode: kinesis.StreamMode.ON_DEMAND, encryption: kinesis.StreamEncryption.KMS, encryptionKey: cmk });
    const stream = new kinesis.Stream(stack, 'Plain', { streamMode: kinesis.StreamMode.ON_DEMAND, encryption: kinesis.StreamEncryption.MANAGED });
    const spill = new SpillQueue(stack, 'Spill', { streams: [stream, encrypted], serviceName: 'orders' });
    const template = Template.fromStack(stack);
    const role = spill.drainFunction.role as iam.Role;
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }] },
      ManagedPolicyArns: Match.absent(),
    });
    const arn = (c: { node: { defaultChild?: unknown } }) => ({ 'Fn::GetAtt': [logicalId(stack, c), 'Arn'] });
    expect(statementsOf(template, logicalId(stack, role))).toEqual([
      { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^SpillDrainLogs/), 'Arn'] } },
      {
        Action: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
        Effect: 'Allow',
        Resource: arn(spill.queue),
      },
      { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: arn(spill.deadLetterQueue) },
      { Action: 'kinesis:PutRecords', Effect: 'Allow', Resource: arn(stream) },
      { Action: 'kinesis:PutRecords', Effect: 'Allow', Resource: arn(encrypted) },
      { Action: 'kms:GenerateDataKey', Effect: 'Allow', Resource: arn(cmk) },
    ]);
  });

  test('grantSpill gives sqs:SendMessage and GetQueueAttributes (the backlog check) on the queue and nothing else', () => {
    const stack = newStack();
    const { spill } = spillQueue(stack);
    const ingest = new iam.Role(stack, 'IngestRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    spill.grantSpill(ingest);
    expect(statementsOf(Template.fromStack(stack), logicalId(stack, ingest))).toEqual([
      { Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [logicalId(stack, spill.queue), 'Arn'] } },
    ]);
  });

  test('grantSpill adds GenerateDataKey and Decrypt on a customer-managed key', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const { spill } = spillQueue(stack, { encryptionKey: key });
    const ingest = new iam.Role(stack, 'IngestRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    spill.grantSpill(ingest);
    expect(statementsOf(Template.fromStack(stack), logicalId(stack, ingest))).toEqual([
      { Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [logicalId(stack, spill.queue), 'Arn'] } },
      { Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [logicalId(stack, key), 'Arn'] } },
    ]);
  });

  test('alarms on the queue\'s depth and age, and on any message in the dead-letter queue', () => {
    const stack = newStack();
    const { spill } = spillQueue(stack, { depthAlarmThreshold: 500, ageAlarmThreshold: Duration.minutes(30) });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 3);
    const queueName = (q: { node: { defaultChild?: unknown } }) => [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack, q), 'QueueName'] } }];
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: queueName(spill.queue),
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 5,
      Threshold: 500,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: queueName(spill.queue),
      Statistic: 'Maximum',
      Threshold: 1800,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: queueName(spill.deadLetterQueue),
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmDescription: Match.stringLikeRegexp('dead-letter queue \\(Test/Spill\\)'),
    });
    // The alarms exposed are those three.
    expect([spill.depthAlarm, spill.ageAlarm, spill.deadLetterAlarm].map((a) => logicalId(stack, a)).sort())
      .toEqual(Object.keys(template.findResources('AWS::CloudWatch::Alarm')).sort());
    expect(template.findResources('AWS::CloudWatch::Alarm')[logicalId(stack, spill.ageAlarm)].Properties.MetricName).toBe('ApproximateAgeOfOldestMessage');
  });

  test('has no unacknowledged cdk-nag finding, and every acknowledgement gives its reason', () => {
    // GIVEN the checks on the whole app, with a customer-managed key and without
    const app = new App({ context: { '@aws-cdk/core:strictCfnValidateErrors': true } });
    const stack = newStack(app);
    const { spill } = spillQueue(stack);
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new SpillQueue(stack, 'SpillCmk', { streams: [new kinesis.Stream(stack, 'Other', { encryption: kinesis.StreamEncryption.MANAGED })], serviceName: 'other', encryptionKey: key });
    spill.grantSpill(new iam.Role(stack, 'IngestRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }));
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    // WHEN it is synthesized, THEN nothing is left unacknowledged
    expect(() => app.synth()).not.toThrow();
    const acks = acknowledgements(app);
    expect(acks.map((a) => `${a.path} ${a.id}`).sort()).toEqual(['Test/Spill/Drain AwsSolutions-L1', 'Test/SpillCmk/Drain AwsSolutions-L1']);
    for (const ack of acks) expect(ack.reason.length).toBeGreaterThan(40);
  });

  test.each([
    ['streams is empty', { streams: [] }, /SpillQueue 'Test\/Spill': streams is empty, so spilled records could go nowhere/],
    ['maxReceiveCount is 0', { maxReceiveCount: 0 }, /maxReceiveCount must be a whole number between 1 and 1000, got 0/],
    ['maxReceiveCount is 1001', { maxReceiveCount: 1001 }, /maxReceiveCount must be a whole number between 1 and 1000, got 1001/],
    ['retentionPeriod is over 14 days', { retentionPeriod: Duration.days(15) }, /retentionPeriod must be a whole number of seconds between 1 minute and 14 days, got 15 days/],
    ['drainTimeout is under 30 seconds', { drainTimeout: Duration.seconds(10) }, /drainTimeout must be a whole number of seconds between 30 seconds and 15 minutes, got 10 seconds/],
    ['depthAlarmThreshold is 0', { depthAlarmThreshold: 0 }, /depthAlarmThreshold must be a whole number of at least 1, got 0/],
    ['ageAlarmThreshold is longer than the retention', { retentionPeriod: Duration.hours(1), ageAlarmThreshold: Duration.hours(2) }, /ageAlarmThreshold must be between 1 minute and the retention period \(1 hour\), got 2 hours/],
  ])('fails when %s', (_, props, message) => {
    const stack = newStack();
    const stream = new kinesis.Stream(stack, 'Stream');
    expect(() => new SpillQueue(stack, 'Spill', { streams: [stream], serviceName: 'orders', ...props })).toThrow(message);
  });
});
