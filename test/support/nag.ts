import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Every rule acknowledged under `root`, with where and why. */
export function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((c) => c.node.metadata
    .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((m) => Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ path: c.node.path, id: id.replace(/^Annotation::/, ''), reason }))));
}
