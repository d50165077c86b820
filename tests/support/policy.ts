/**
 * Builds validation arguments the way the engine does (isType, asType, notApplicable, getConfig
 * with the schema's defaults), and collects what a policy reports.
 */
import type {
  Policy,
  PolicyResource,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { withDefaults } from "../../policies/lib/config";

export interface Fixture {
  type: string;
  name?: string;
  props: Record<string, any>;
  protect?: boolean;
  provider?: { type: string; props: Record<string, any> };
}

class NotApplicable extends Error {}

function base(f: Fixture, policy: Policy, config?: Record<string, unknown>) {
  const name = f.name ?? "subject";
  return {
    type: f.type,
    props: f.props,
    urn: `urn:pulumi:citadel::citadel::${f.type}::${name}`,
    name,
    opts: {
      protect: f.protect ?? false,
      ignoreChanges: [],
      aliases: [],
      customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
      additionalSecretOutputs: [],
    },
    provider: f.provider
      ? { ...f.provider, urn: `urn:pulumi:citadel::citadel::${f.provider.type}::p`, name: "p" }
      : undefined,
    isType: (cls: { __pulumiType?: string }) => cls.__pulumiType === f.type,
    asType: (cls: { __pulumiType?: string }) => (cls.__pulumiType === f.type ? f.props : undefined),
    getConfig: () => withDefaults(policy.configSchema, config),
    notApplicable: (reason?: string): never => {
      throw new NotApplicable(reason);
    },
    stackTags: new Map(),
  };
}

/** Messages a resource policy reports for one resource. */
export async function resourceViolations(
  policy: ResourceValidationPolicy,
  f: Fixture,
  config?: Record<string, unknown>,
): Promise<string[]> {
  const messages: string[] = [];
  try {
    for (const validate of ([] as unknown[]).concat(policy.validateResource)) {
      await (validate as (a: ResourceValidationArgs, r: (m: string) => void) => unknown)(
        base(f, policy, config) as unknown as ResourceValidationArgs,
        (m) => messages.push(m),
      );
    }
  } catch (err) {
    if (!(err instanceof NotApplicable)) throw err;
  }
  return messages;
}

/** Messages a stack policy reports for a set of resources. */
export async function stackViolations(
  policy: StackValidationPolicy,
  fixtures: Fixture[],
  config?: Record<string, unknown>,
): Promise<string[]> {
  const messages: string[] = [];
  const resources = fixtures.map((f) => ({
    ...base(f, policy, config),
    dependencies: [],
    propertyDependencies: {},
  })) as unknown as PolicyResource[];
  const args = {
    resources,
    getConfig: () => withDefaults(policy.configSchema, config),
    notApplicable: () => undefined as never,
    stackTags: new Map(),
  } as unknown as StackValidationArgs;
  await policy.validateStack(args, (m) => messages.push(m));
  return messages;
}
