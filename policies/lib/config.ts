/** Builds a policy's effective config: the defaults in its schema, overridden by what is given. */
import type { PolicyConfigSchema } from "@pulumi/policy";

export function withDefaults(
  schema: PolicyConfigSchema | undefined,
  given: Record<string, unknown> = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, prop] of Object.entries(schema?.properties ?? {})) {
    const def = (prop as { default?: unknown }).default;
    if (def !== undefined) out[key] = def;
  }
  return { ...out, ...given };
}
