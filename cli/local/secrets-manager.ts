import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody } from './read-body';
import { SecretVersions } from './secret-versions';

type Operation = 'DescribeSecret' | 'GetSecretValue' | 'PutSecretValue' | 'UpdateSecretVersionStage';
const OPERATIONS: readonly Operation[] = ['DescribeSecret', 'GetSecretValue', 'PutSecretValue', 'UpdateSecretVersionStage'];

/**
 * A stand-in Secrets Manager endpoint for handler bundles, which carry their own copy of the SDK
 * and so cannot be mocked in-process. No Secrets Manager emulator exists here; this answers
 * DescribeSecret, GetSecretValue, PutSecretValue and UpdateSecretVersionStage in the real JSON 1.1
 * wire format, from one {@link SecretVersions} per secret, so a rotation can run against it.
 */
export class LocalSecretsManager {
  static async start(secrets: Record<string, string>): Promise<LocalSecretsManager> {
    const fake = new LocalSecretsManager(secrets);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  readonly calls: string[] = [];
  /** Each secret's versions and labels, by ARN. */
  readonly secrets = new Map<string, SecretVersions>();
  private readonly server: Server;

  private constructor(initial: Record<string, string>) {
    for (const [arn, value] of Object.entries(initial)) this.secrets.set(arn, new SecretVersions(arn, { versionId: 'v1', value }));
    this.server = createServer((req, res) => {
      void readBody(req).then((raw) => {
        const target = String(req.headers['x-amz-target']);
        const input = JSON.parse(raw.toString('utf8') || '{}') as { SecretId?: string };
        this.calls.push(`${target} ${input.SecretId}`);
        const [status, body] = this.answer(target.replace(/^secretsmanager\./, ''), input);
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(body));
      });
    });
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private answer(operation: string, input: { SecretId?: string }): [number, unknown] {
    if (!(OPERATIONS as readonly string[]).includes(operation)) return [400, { __type: 'UnknownOperationException', message: operation }];
    const secret = input.SecretId === undefined ? undefined : this.secrets.get(input.SecretId);
    if (secret === undefined) return [400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." }];
    try {
      const { $metadata: _ignored, ...output } = (secret[camel(operation as Operation)] as (i: unknown) => { $metadata: unknown })(input);
      return [200, output];
    } catch (error) {
      return [400, { __type: (error as Error).name, message: (error as Error).message }];
    }
  }
}

function camel(operation: Operation): 'describeSecret' | 'getSecretValue' | 'putSecretValue' | 'updateSecretVersionStage' {
  return `${operation[0].toLowerCase()}${operation.slice(1)}` as ReturnType<typeof camel>;
}
