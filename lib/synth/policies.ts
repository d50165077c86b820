/**
 * Runs the citadel-guard policies in-process against a synthesised stack, with the arguments the
 * engine would build: props with secrets unwrapped (the engine deserialises them that way for
 * validation), the engine's resource options, each policy's config with its schema's defaults.
 * Never imports policies/index.ts, which would start the pack's gRPC server.
 */
import {
  type Policy,
  type PolicyResource,
  type ResourceValidationArgs,
  type ResourceValidationPolicy,
  type StackValidationArgs,
  type StackValidationPolicy,
} from "@pulumi/policy";
import { withDefaults } from "../../policies/lib/config";
import { POLICIES } from "../../policies/policies";
import type { ResourceRecord, SynthResult } from "./harness";

export interface Violation {
  policy: string;
  enforcementLevel: string;
  urn: string | null;
  message: string;
}

/** Per-policy config, as `--policy-pack-config` would give it. */
export type PolicyPackConfig = Record<string, Record<string, unknown>>;

class NotApplicable extends Error {}

/** The report's name for the config loader's warnings (components/config/warnings.ts). */
export const CONFIG_WARNING_POLICY = "citadel-config-warning";

/** A resource's props as the engine hands them to a validation: plain values, secrets unwrapped. */
export function engineProps(record: ResourceRecord): Record<string, unknown> {
  return structuredClone(record.rawInputs);
}

function typeHelpers(type: string) {
  const matches = (cls: { __pulumiType?: string }) => cls.__pulumiType === type;
  return {
    isType: (cls: unknown) => matches(cls as { __pulumiType?: string }),
    asType: (cls: unknown) => (matches(cls as { __pulumiType?: string }) ? {} : undefined),
  };
}

function opts(record: ResourceRecord) {
  return {
    protect: record.protect,
    ignoreChanges: record.ignoreChanges,
    deleteBeforeReplace: record.deleteBeforeReplace,
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: record.additionalSecretOutputs,
    parent: record.parent ?? undefined,
  };
}

export async function runPolicies(
  result: SynthResult,
  config: PolicyPackConfig = {},
  policies: Policy[] = POLICIES,
): Promise<Violation[]> {
  const violations: Violation[] = [];
  const byUrn = new Map(result.resources.map((r) => [r.urn, r]));
  const provider = (r: ResourceRecord) => {
    const p = r.provider ? byUrn.get(r.provider) : undefined;
    return p ? { type: p.type, props: engineProps(p), urn: p.urn, name: p.name } : undefined;
  };
  for (const policy of policies) {
    const level = policy.enforcementLevel ?? "advisory";
    if (level === "disabled") continue;
    const policyConfig = withDefaults(policy.configSchema, config[policy.name]);
    const notApplicable = (reason?: string): never => {
      throw new NotApplicable(reason);
    };
    const record = (message: string, urn: string | null) =>
      violations.push({ policy: policy.name, enforcementLevel: level, urn, message });
    try {
      if ("validateResource" in policy && policy.validateResource) {
        const validations = ([] as unknown[]).concat((policy as ResourceValidationPolicy).validateResource);
        for (const r of result.resources) {
          const args = {
            type: r.type,
            props: engineProps(r),
            urn: r.urn,
            name: r.name,
            opts: opts(r),
            provider: provider(r),
            stackTags: new Map(),
            ...typeHelpers(r.type),
            getConfig: () => policyConfig,
            notApplicable,
          } as unknown as ResourceValidationArgs;
          for (const validate of validations) {
            await (validate as (a: ResourceValidationArgs, report: (m: string) => void) => unknown)(
              args,
              (m) => record(m, r.urn),
            );
          }
        }
      } else if ("validateStack" in policy) {
        const resources: PolicyResource[] = result.resources.map((r) => ({
          type: r.type,
          props: engineProps(r),
          urn: r.urn,
          name: r.name,
          opts: opts(r) as PolicyResource["opts"],
          provider: provider(r),
          dependencies: [],
          propertyDependencies: {},
          ...typeHelpers(r.type),
        })) as unknown as PolicyResource[];
        const args = {
          resources,
          stackTags: new Map(),
          getConfig: () => policyConfig,
          notApplicable,
        } as unknown as StackValidationArgs;
        await (policy as StackValidationPolicy).validateStack(args, (m, urn) => record(m, urn ?? null));
      }
    } catch (err) {
      if (!(err instanceof NotApplicable)) throw err;
    }
  }
  // The config's warnings join the report as advisory findings: seen, and never failing a run.
  for (const w of result.warnings ?? [])
    violations.push({
      policy: CONFIG_WARNING_POLICY,
      enforcementLevel: "advisory",
      urn: null,
      message: `${w.path}: ${w.message}`,
    });
  return violations.sort((a, b) =>
    a.enforcementLevel !== b.enforcementLevel
      ? a.enforcementLevel === "mandatory"
        ? -1
        : 1
      : a.policy < b.policy
        ? -1
        : a.policy > b.policy
          ? 1
          : (a.urn ?? "") < (b.urn ?? "")
            ? -1
            : 1,
  );
}

/** The violations as a table for the terminal. */
export function renderViolations(violations: Violation[]): string {
  if (violations.length === 0) return "citadel-guard: no violations";
  const name = (urn: string | null) => (urn ? urn.split("::").pop() : "(stack)");
  const rows = violations.map((v) => [v.enforcementLevel, v.policy, name(v.urn) as string, v.message]);
  const widths = [0, 1, 2].map((i) =>
    Math.max(...rows.map((r) => (r[i] as string).length), ["level", "policy", "resource"][i]!.length),
  );
  const line = (r: string[]) => r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join("  ");
  const mandatory = violations.filter((v) => v.enforcementLevel === "mandatory").length;
  return [
    line(["level", "policy", "resource", "message"]),
    ...rows.map(line),
    "",
    `citadel-guard: ${mandatory} mandatory, ${violations.length - mandatory} advisory violations`,
  ].join("\n");
}
