import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { DependencyUnavailableError } from '../../lambda/common/errors';
import { handlerSecretCache } from '../../lambda/common/secrets';

// Apart from ./secrets.test.ts, whose SDK mock would answer for the real client.
const ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:stripe-AbCdEf';

describe('handlerSecretCache', () => {
  test('fails closed with 503 when Secrets Manager takes the connection and never answers', async () => {
    // GIVEN a "Secrets Manager" on 127.0.0.1 that accepts every request and never answers
    const sockets = new Set<Socket>();
    const server = createServer(() => undefined);
    server.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const previous = { ...process.env };
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    Object.assign(process.env, { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
    try {
      // WHEN the handlers' secret cache reads a secret through it
      const cache = handlerSecretCache({ secretCacheTtlSeconds: 60 }, { warn: () => undefined });
      const started = Date.now();
      const error = await cache.candidates(ARN).catch((e: unknown) => e);
      // THEN its request timeout aborts each try (two of at most 3 s), and the answer is a 503,
      // well before API Gateway's 29 s: a timeout that only logged a warning would hang here
      expect(error).toBeInstanceOf(DependencyUnavailableError);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      process.env = previous;
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 20_000);
});
