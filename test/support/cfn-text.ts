/**
 * Renders a synthesized Fn::Join of strings and references as one string, with `<Ref X>` and
 * `<GetAtt X.Y>` placeholders. Any other intrinsic is a test failure.
 */
export function flattenJoin(value: unknown): string {
  if (typeof value === 'string') return value;
  const obj = value as Record<string, unknown>;
  if ('Fn::Join' in obj) {
    const [sep, parts] = obj['Fn::Join'] as [string, unknown[]];
    return parts.map(flattenJoin).join(sep);
  }
  if ('Ref' in obj) return `<Ref ${String(obj.Ref)}>`;
  if ('Fn::GetAtt' in obj) return `<GetAtt ${(obj['Fn::GetAtt'] as string[]).join('.')}>`;
  throw new Error(`unexpected intrinsic: ${JSON.stringify(value)}`);
}
