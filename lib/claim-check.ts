import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';

/** Options for {@link ClaimCheck.s3}. */
export interface S3ClaimCheckOptions {
  /**
   * The bucket that holds payloads too large for a stream record, and uploaded files.
   *
   * @default - a new bucket: encrypted, TLS only, public access blocked
   */
  readonly bucket?: s3.IBucket;

  /**
   * The key prefix under which the source writes. Keys are
   * `<prefix><source>/<yyyy>/<mm>/<dd>/<event id>/<part>`, the same for a redelivered event.
   *
   * @default 'payloads/'
   */
  readonly prefix?: string;
}

/** @internal */
export interface ClaimCheckBinding {
  readonly bucket: s3.IBucket;
  readonly prefix: string;
}

/**
 * Where a stream source puts what does not fit in a stream record: event bodies larger than a
 * Kinesis record, and files uploaded as `multipart/form-data`. The record then carries a
 * `payloadRef` (bucket, key, size, SHA-256, content type) instead of the bytes.
 */
export class ClaimCheck {
  /** Payloads go to an S3 bucket. */
  public static s3(options: S3ClaimCheckOptions = {}): ClaimCheck {
    return new ClaimCheck(options);
  }

  private constructor(private readonly options: S3ClaimCheckOptions) {}

  /** @internal */
  public _bind(scope: Construct, owner: string): ClaimCheckBinding {
    const prefix = this.options.prefix ?? 'payloads/';
    if (!/^([A-Za-z0-9!_.*'()-]+\/)*$/.test(prefix)) {
      throw new Error(`${owner}: claim check prefix must be empty or safe path segments ending in '/', such as 'payloads/', got '${prefix}'`);
    }
    let bucket = this.options.bucket;
    if (bucket === undefined) {
      const created = new s3.Bucket(scope, 'PayloadBucket', {
        encryption: s3.BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        minimumTLSVersion: 1.2,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      Validations.of(created).acknowledge({
        id: 'AwsSolutions-S1',
        reason: 'Only the ingest function writes here and only stream consumers read, each through its IAM role; enable CloudTrail S3 data events, or pass a bucket with access logging, to audit reads.',
      });
      bucket = created;
    }
    return { bucket, prefix };
  }
}
