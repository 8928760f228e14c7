/**
 * Resolves the CloudFormation intrinsics that appear in a synthesized value, given what each
 * referenced resource resolves to. Enough for environment variables: Ref, Fn::GetAtt, Fn::Join.
 */
export function resolveCfn(value: unknown, refs: (logicalId: string, attribute?: string) => string): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveCfn(v, refs));
  if (typeof value !== 'object' || value === null) return value;
  const obj = value as Record<string, unknown>;
  if ('Ref' in obj) return refs(String(obj.Ref));
  if ('Fn::GetAtt' in obj) {
    const [id, attribute] = obj['Fn::GetAtt'] as [string, string];
    return refs(id, attribute);
  }
  if ('Fn::Join' in obj) {
    const [sep, parts] = obj['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => String(resolveCfn(p, refs))).join(sep);
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, resolveCfn(v, refs)]));
}
