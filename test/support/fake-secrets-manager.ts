import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in Secrets Manager endpoint for handler bundles, which carry their own copy of the SDK
 * and so cannot be mocked in-process. No Secrets Manager emulator exists here; this answers
 * GetSecretValue in the real JSON 1.1 wire format, and nothing else.
 */
export class FakeSecretsManager {
  static async start(secrets: Record<string, string>): Promise<FakeSecretsManager> {
    const fake = new FakeSecretsManager(secrets);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  readonly calls: string[] = [];
  private readonly server: Server;

  private constructor(private readonly secrets: Record<string, string>) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const target = String(req.headers['x-amz-target']);
        const input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { SecretId?: string };
        this.calls.push(`${target} ${input.SecretId}`);
        const value = input.SecretId === undefined ? undefined : this.secrets[input.SecretId];
        const [status, body] = target !== 'secretsmanager.GetSecretValue'
          ? [400, { __type: 'UnknownOperationException', message: target }]
          : value === undefined
            ? [400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." }]
            : [200, { ARN: input.SecretId, Name: 'secret', SecretString: value, VersionId: 'v1', VersionStages: ['AWSCURRENT'], CreatedDate: 1767225600 }];
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
}
