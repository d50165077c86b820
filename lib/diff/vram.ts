/**
 * The review note for a change to the vLLM servers: the VRAM plan per GPU before and after, and
 * what each replaced server costs in downtime. Both sides are resolved with this checkout's
 * resolver (components/plan/vllm.ts) from their stack files. Pure.
 */
import { SECRETS } from "../../components/config";
import { parseLabConfig } from "../../components/plan";
import { resolveVllm, type ResolvedServer, type ResolvedVllm } from "../../components/plan/vllm";
import { weightBytes } from "../../components/plan/vram";
import { stackConfigSource, type StackFile } from "../synth/stackfile";
import type { HostNote } from "./diff";

const GiB = 1024 ** 3;
/** Download speeds the downtime is given at: the lab's link is not known to the code. */
const RATES_MB_S = [100, 10];

/** The vLLM servers of a stack file, resolved; undefined when it has none or does not load here. */
export function resolvedOf(stack: StackFile): ResolvedVllm | undefined {
  try {
    const lab = parseLabConfig(
      stackConfigSource(
        stack,
        SECRETS.map((s) => s.key),
      ),
      stack.source,
    ).lab;
    return lab.vllm ? resolveVllm(lab, lab.vllm).resolved : undefined;
  } catch {
    return undefined;
  }
}

/** What about a server moves the VRAM plan or restarts it. */
const planKey = (s: ResolvedServer) =>
  JSON.stringify([
    s.config.model,
    s.config.quantization,
    s.config.kvCacheDtype,
    s.config.maxModelLen,
    s.config.gpuMemoryUtilization,
    s.gpuIds,
    s.tensorParallelSize,
    s.reserveGiB,
  ]);

function gpuLine(v: ResolvedVllm | undefined, gpu: string): string {
  const share = v?.gpuPlan.find((g) => g.gpu === gpu);
  if (!share || share.servers.length === 0) return "nothing reserved";
  const parts = share.servers.map((s) => `${s.server} ${s.utilization} (${s.reservedGiB} GiB)`).join(" + ");
  return `${parts} = ${share.utilization} of the GPU, ${share.freeGiB} GiB unreserved`;
}

function serverLine(s: ResolvedServer | undefined): string {
  if (!s) return "(none)";
  const g = s.plan.perGpu;
  return `${s.config.model} on GPU ${s.gpuIds.join(",")}: weights ${g.weightsGiB} GiB, KV cache ${g.kvBudgetGiB} GiB = ${g.tokensThatFit} tokens (${g.concurrencyAtMaxModelLen} requests of ${s.config.maxModelLen})`;
}

const minutes = (bytes: number, mbPerS: number) => {
  const m = bytes / (mbPerS * 1e6) / 60;
  return m < 1 ? "under a minute" : `~${Math.round(m)} min`;
};

/**
 * The note for the vLLM host when a server's model, placement or memory changed, was added or was
 * removed; undefined when the VRAM plan is the same on both sides.
 */
export function vramNote(base: StackFile, head: StackFile): HostNote | undefined {
  const [a, b] = [resolvedOf(base), resolvedOf(head)];
  if (!a && !b) return undefined;
  const names = [...new Set([...(a?.servers ?? []), ...(b?.servers ?? [])].map((s) => s.name))].sort();
  const find = (v: ResolvedVllm | undefined, n: string) => v?.servers.find((s) => s.name === n);
  const changed = names.filter((n) => {
    const [x, y] = [find(a, n), find(b, n)];
    return !x || !y || planKey(x) !== planKey(y);
  });
  if (changed.length === 0) return undefined;
  const host = (b ?? a)?.hostName as string;
  const lines: string[] = [];
  if (!a)
    lines.push(
      "the base side's VRAM plan could not be computed with this code (its stack file does not load here)",
    );
  const gpus = [...new Set([...(a?.gpuPlan ?? []), ...(b?.gpuPlan ?? [])].map((g) => g.gpu))];
  for (const gpu of gpus) {
    const [before, after] = [gpuLine(a, gpu), gpuLine(b, gpu)];
    if (before === after) lines.push(`GPU ${gpu}  ${after} (unchanged)`);
    else lines.push(`GPU ${gpu}  before: ${before}`, `${" ".repeat(gpu.length + 6)}after:  ${after}`);
  }
  for (const n of changed) {
    const [x, y] = [find(a, n), find(b, n)];
    lines.push(`servers.${n}:`, `  before: ${serverLine(x)}`, `  after:  ${serverLine(y)}`);
    if (!y) {
      lines.push(`  removed: ${x?.container} stops and its port closes`);
      continue;
    }
    const timeout = b?.config.startupTimeoutSeconds;
    const waits = `pulumi up waits up to ${timeout} s for it (vllm.startupTimeoutSeconds)`;
    if (!x) {
      lines.push(`  new: ${y.container} downloads and loads ${y.config.model}; ${waits}`);
      continue;
    }
    // components/llm/vllm.ts: deleteBeforeReplace, so the old container is gone before the new one starts.
    const down = `downtime: ${x.container} is removed before its replacement starts, so ${x.servedModelName} answers nothing until`;
    if (x.config.model !== y.config.model) {
      const bytes = weightBytes(y.facts);
      lines.push(
        `  ${down}`,
        `  ${y.config.model} has downloaded, ${(bytes / GiB).toFixed(1)} GiB into ${b?.config.cacheDir} unless already there`,
        `  (${RATES_MB_S.map((r) => `${minutes(bytes, r)} at ${r} MB/s`).join(", ")}), and loaded onto GPU ${y.gpuIds.join(",")};`,
        `  ${waits}`,
      );
    } else {
      lines.push(
        `  ${down}`,
        `  the cached ${y.config.model} has loaded again onto GPU ${y.gpuIds.join(",")}; ${waits}`,
      );
    }
  }
  return { host, title: `VRAM plan on ${host}, before and after`, lines };
}
