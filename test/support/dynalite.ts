import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { TEST_CREDENTIALS, TEST_REGION } from './kinesalite';

// dynalite has no type declarations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (options: { createTableMs: number; deleteTableMs?: number }) => Server;

/** A DynamoDB wire API (dynalite), in memory, on a free 127.0.0.1 port. */
export class LocalDynamoDb {
  static async start(): Promise<LocalDynamoDb> {
    const server = dynalite({ createTableMs: 0, deleteTableMs: 0 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new LocalDynamoDb(server);
  }

  readonly endpoint: string;
  readonly client: DynamoDBClient;

  private constructor(private readonly server: Server) {
    this.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    this.client = new DynamoDBClient({
      endpoint: this.endpoint,
      region: TEST_REGION,
      credentials: TEST_CREDENTIALS,
      requestHandler: new NodeHttpHandler(),
    });
  }

  /** A table shaped as the dedup store expects: a string partition key `pk`. */
  async createDedupTable(name: string): Promise<void> {
    await this.client.send(new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }));
  }

  async stop(): Promise<void> {
    this.client.destroy();
    await new Promise<void>((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }
}
