/**
 * A plan as `npm run diff` compares it: the custom resources with their inputs, the rendered files
 * and citadel-guard's verdict. Read either from a synth result in this process or from the `out/`
 * folder `npm start` writes (resources.json, files/, policy-report.json), which is how a base ref's
 * own code reports its plan.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { SynthResult } from "../synth/harness";
import type { Violation } from "../synth/policies";

export interface PlanResource {
  urn: string;
  name: string;
  type: string;
  parent: string | null;
  /** Inputs as `out/resources.json` shows them: secrets are "[secret]". */
  inputs: Record<string, unknown>;
  protect: boolean;
  retainOnDelete: boolean;
  /** The provider resource's URN, when not the default provider. */
  provider: string | null;
  /** URNs it waits for (resources or components). @default [] */
  dependsOn?: string[];
}

export interface Plan {
  /** Custom resources (providers included) by name. */
  resources: Map<string, PlanResource>;
  /** Rendered files by `<host>/<path>`. */
  files: Map<string, string>;
  violations: Violation[];
  /** Each component's parent URN, by its URN: a dependency on a component waits for all of it. @default none */
  components?: Map<string, string | null>;
}

/** Components (`citadel:<module>:<Name>`) hold no inputs of their own; the engine diffs only custom resources. */
const isComponent = (type: string) => type.startsWith("citadel:");

/**
 * A plan from a synth result. `reveal` takes the inputs with secrets unwrapped, for the benchmark's
 * in-memory comparisons only; nothing built with it is ever printed.
 */
export function planFromSynth(result: SynthResult, violations: Violation[] = [], reveal = false): Plan {
  const resources = new Map<string, PlanResource>();
  const components = new Map<string, string | null>();
  for (const r of result.resources) {
    if (!r.custom) {
      components.set(r.urn, r.parent);
      continue;
    }
    resources.set(r.name, {
      urn: r.urn,
      name: r.name,
      type: r.type,
      parent: r.parent,
      inputs: reveal ? r.rawInputs : r.inputs,
      protect: r.protect,
      retainOnDelete: r.retainOnDelete,
      provider: r.provider,
      dependsOn: r.dependsOn,
    });
  }
  return { resources, files: new Map(result.files), violations, components };
}

/** A plan from the folder `npm start -- --out DIR` wrote. */
export function planFromOut(dir: string): Plan {
  const rows = JSON.parse(readFileSync(path.join(dir, "resources.json"), "utf8")) as PlanResource[];
  const resources = new Map<string, PlanResource>();
  const components = new Map<string, string | null>();
  for (const r of rows) {
    if (isComponent(r.type)) {
      components.set(r.urn, r.parent ?? null);
      continue;
    }
    resources.set(r.name, {
      urn: r.urn,
      name: r.name,
      type: r.type,
      parent: r.parent ?? null,
      inputs: r.inputs ?? {},
      protect: r.protect === true,
      retainOnDelete: r.retainOnDelete === true,
      provider: r.provider ?? null,
      dependsOn: r.dependsOn ?? [],
    });
  }
  const files = new Map<string, string>();
  const root = path.join(dir, "files");
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const full = path.join(d, e);
      if (statSync(full).isDirectory()) walk(full);
      else files.set(path.relative(root, full).split(path.sep).join("/"), readFileSync(full, "utf8"));
    }
  };
  if (existsSync(root)) walk(root);
  const report = path.join(dir, "policy-report.json");
  const violations = existsSync(report) ? (JSON.parse(readFileSync(report, "utf8")) as Violation[]) : [];
  return { resources, files, violations, components };
}
