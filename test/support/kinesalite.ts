// The tests use the local runner's own embedded Kinesis.
export { LocalKinesis, clientFor, decode, TEST_CREDENTIALS, TEST_REGION } from '../../cli/local/kinesis';
