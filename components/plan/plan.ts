/**
 * The plan layer's entry: the lab's config parsed with the plan's cross-field rules, and the plan
 * those rules resolved, made once. Pure: no Pulumi, no component. Components take the plan
 * (`buildLab`), never resolve the config again.
 */
import type { LabConfig, PlanChecks } from "../config/schema";
import { parseConfig, type LoadedConfig } from "../config/load";
import type { ConfigSource } from "../config/source";
import type { Problem } from "../shared/problem";
import { ladonProblems } from "./ladon";
import { resolveLadon, type ResolvedLadon } from "./ladon-resolve";
import { resolveVllm, type ResolvedVllm } from "./vllm";

/** What the config implies, resolved once: vLLM's servers and GPU plan, the LadonStack's placement. */
export interface LabPlan {
  /** vLLM's resolution, with the problems that stop it (none once the config was accepted). */
  vllm?: { resolved?: ResolvedVllm; problems: Problem[] };
  ladon?: ResolvedLadon;
}

/**
 * The plan's cross-field rules, run inside the config's schema check (config/schema.ts
 * `labSchemaWith`). It keeps vLLM's resolution, so the plan does not make it a second time.
 */
export class PlanChecker implements PlanChecks {
  private vllmResult?: { lab: LabConfig; result: NonNullable<LabPlan["vllm"]> };

  vllm(lab: LabConfig, vllm: NonNullable<LabConfig["vllm"]>): Problem[] {
    const result = resolveVllm(lab, vllm);
    this.vllmResult = { lab, result };
    return result.problems;
  }

  ladon(lab: LabConfig, ladon: NonNullable<LabConfig["ladon"]>): Problem[] {
    return ladonProblems(lab, ladon);
  }

  /** The plan of `lab`: vLLM's resolution as the check made it (for this lab), else made now. */
  plan(lab: LabConfig): LabPlan {
    const checked = this.vllmResult?.lab === lab ? this.vllmResult.result : undefined;
    return planLab(lab, checked);
  }
}

/** The lab's plan. `vllm`, when given, is vLLM's resolution already made for this lab. */
export function planLab(lab: LabConfig, vllm?: LabPlan["vllm"]): LabPlan {
  return {
    ...(lab.vllm ? { vllm: vllm ?? resolveVllm(lab, lab.vllm) } : {}),
    ...(lab.ladon ? { ladon: resolveLadon(lab, lab.ladon) } : {}),
  };
}

/**
 * Validates the whole namespace, the config's rules and the plan's, and makes the plan. Pure: it
 * never touches the engine, so tests call it directly.
 */
export function parseLabConfig(
  source: ConfigSource,
  sourceName = "the stack config",
): LoadedConfig & { plan: LabPlan } {
  const checker = new PlanChecker();
  const loaded = parseConfig(source, sourceName, checker);
  return { ...loaded, plan: checker.plan(loaded.lab) };
}
