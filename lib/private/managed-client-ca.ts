import type { CustomResource } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { IConstruct } from 'constructs';

/** A gateway's managed client CA, as its clients need it. */
export interface ManagedClientCa {
  /** The custom resource provider that creates the CA and issues certificates. */
  readonly provider: lambda.IFunction;
  /** The CA's certificate and private key. */
  readonly secret: secretsmanager.ISecret;
  /** The custom resource that creates the CA; certificates are issued after it. */
  readonly resource: CustomResource;
  /** The CA's validity as configured, in days, when known at synth. */
  readonly validityDays?: number;
}

/**
 * The managed CA of each gateway that runs one. A gateway registers its CA here, and an MtlsClient
 * finds it here, so that the client needs no import of the gateway's module (which imports it).
 */
const MANAGED_CAS = new WeakMap<IConstruct, ManagedClientCa>();

/** Records the managed client CA of `gateway`. */
export function registerManagedClientCa(gateway: IConstruct, ca: ManagedClientCa): void {
  MANAGED_CAS.set(gateway, ca);
}

/** Whether `gateway` runs a managed client CA. */
export function hasManagedClientCa(gateway: IConstruct): boolean {
  return MANAGED_CAS.has(gateway);
}

/** The managed client CA of `gateway`, or an error naming `owner` and the fix. */
export function managedClientCaOf(gateway: IConstruct, owner: string): ManagedClientCa {
  const ca = MANAGED_CAS.get(gateway);
  if (ca === undefined) {
    throw new Error(`${owner}: the gateway ${gateway.node.path} has no managed client CA; set domain.mtls.managedCa to issue client certificates`);
  }
  return ca;
}
