import { Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * The id under which cdk-nag's AwsSolutions-IAM5 reports a wildcard in a policy statement's
 * resource: `AwsSolutions-IAM5[Resource::<the resource, flattened>]`, flattened the way cdk-nag
 * 3 does it (a Ref as `<Id>`, an attribute as `<Id.Attr>`, a join joined, any other intrinsic as
 * its JSON). Resolved now, so it names the logical ids as they are when the construct is built.
 */
export function iam5ResourceFinding(scope: IConstruct, resourceArn: string): string {
  const visit = (node: unknown): string => {
    if (node === undefined) return '';
    if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/}/g, '>');
    const obj = node as Record<string, unknown>;
    if (obj['Fn::Join'] !== undefined) {
      const [delimiter, items] = obj['Fn::Join'] as [string, unknown[]];
      return items.map(visit).join(delimiter);
    }
    if (obj['Fn::Sub'] !== undefined) return visit(obj['Fn::Sub']);
    if (obj['Fn::GetAtt'] !== undefined) {
      const [resource, attribute] = obj['Fn::GetAtt'] as [unknown, unknown];
      return `<${visit(resource)}.${visit(attribute)}>`;
    }
    if (obj['Fn::ImportValue'] !== undefined) return visit(obj['Fn::ImportValue']);
    if (obj.Ref !== undefined) return `<${visit(obj.Ref)}>`;
    return JSON.stringify(node);
  };
  return `AwsSolutions-IAM5[Resource::${visit(Stack.of(scope).resolve(resourceArn))}]`;
}
