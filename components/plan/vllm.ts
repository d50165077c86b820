/**
 * Turns `citadel:vllm` plus its host into everything the container and the checks need, and lists
 * what is wrong with it. Pure: the plan layer runs it once, inside the schema check (plan-time
 * errors), and the component takes its result (components/plan/plan.ts).
 */
import type { HostConfig, LabConfig } from "../config/schema";
import {
  servedModelName,
  serversOf,
  type VllmConfig,
  type VllmServerConfig,
  vllmContainer,
} from "../config/vllm";
import { parseSize } from "../config/units";
import { imageOf, PINS } from "../pins";
import { MONITORING_PORTS } from "../shared/lab";
import type { Problem } from "../shared/problem";
import { kindsOf, MODEL_CATALOG, type ModelFacts, type ServerKind } from "../shared/models";
import { describeVramFailure, planVram, servedWeightBits, type VramPlan } from "./vram";

/** Flags citadel sets itself; `extraArgs` may not repeat them. */
export const OWNED_FLAGS = [
  "--model",
  "--served-model-name",
  "--host",
  "--port",
  "--max-model-len",
  "--gpu-memory-utilization",
  "--tensor-parallel-size",
  "-tp",
  "--quantization",
  "-q",
  "--kv-cache-dtype",
  "--api-key",
  "--disable-custom-all-reduce",
  "--otlp-traces-endpoint",
  "--download-dir",
  "--runner",
  "--convert",
  "--task",
] as const;

/** One server, resolved: everything its container and its checks need. */
export interface ResolvedServer {
  /** Its key under `servers`. */
  name: string;
  config: VllmServerConfig;
  /** The container's name and its alias on the lab network: `vllm-<name>`. */
  container: string;
  servedModelName: string;
  kind: ServerKind;
  facts: ModelFacts;
  /** The value for docker's `gpus`: `all`, or a quoted CSV device list. */
  gpus: string;
  /** The GPUs it runs on, by index (or UUID as configured). */
  gpuIds: string[];
  selectedGpus: number;
  tensorParallelSize: number;
  memoryLimitBytes: number;
  reserveGiB: number;
  /** What the server's process holds on each GPU outside its share. */
  baselineGiB: number;
  plan: VramPlan;
}

/** One GPU's share-out: every server that reserves part of it, in the order they start. */
export interface GpuShare {
  /** Index (or UUID) as the servers select it. */
  gpu: string;
  /**
   * Each server's share (`utilization` × the total cudaMemGetInfo reports) and its baseline
   * outside the share, in start order.
   */
  servers: { server: string; utilization: number; reservedGiB: number; baselineGiB: number }[];
  /** The fractions added up. */
  utilization: number;
  /** The shares and the baselines added up. */
  reservedGiB: number;
  /** What vLLM sees as the GPU's total: the nominal size less what the driver keeps. */
  totalGiB: number;
  /** What no server holds. */
  freeGiB: number;
}

export interface ResolvedVllm {
  /** The section, shared settings included. */
  config: VllmConfig;
  hostName: string;
  host: HostConfig;
  servers: ResolvedServer[];
  /** Per GPU, in GPU order. */
  gpuPlan: GpuShare[];
}

/** The flag an argument sets, normalised (`--max_model_len=8` → `--max-model-len`). */
export function flagOf(arg: string): string | undefined {
  if (!arg.startsWith("-")) return undefined;
  const name = arg.split("=")[0] as string;
  return name.startsWith("--") ? `--${name.slice(2).replace(/_/g, "-")}` : name;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** Resolves the section; `problems` is empty when every server can start as configured. */
export function resolveVllm(
  lab: Pick<LabConfig, "hosts">,
  vllm: VllmConfig,
): { resolved?: ResolvedVllm; problems: Problem[] } {
  const problems: Problem[] = [];
  const host = lab.hosts[vllm.host];
  if (!host) {
    return {
      problems: [
        {
          path: ["host"],
          message: `no host named "${vllm.host}" in citadel:hosts (${Object.keys(lab.hosts).join(", ")})`,
        },
      ],
    };
  }
  if (!host.nvidia || !host.docker) {
    return {
      problems: [
        { path: ["host"], message: `host "${vllm.host}" needs both nvidia and docker sections to run vLLM` },
      ],
    };
  }
  const branch = Number(host.nvidia.driver.branch);
  const minBranch = PINS.vllm.minDriverBranch ?? 0;
  if (branch < minBranch) {
    problems.push({
      path: ["host"],
      message: `${imageOf(PINS.vllm)} is built on CUDA 13, which needs NVIDIA driver branch ${minBranch} or newer, but ${vllm.host} is pinned to ${branch}; raise citadel:hosts.${vllm.host}.nvidia.driver.branch`,
    });
  }
  const servers: ResolvedServer[] = [];
  const ports = new Map<number, string>();
  for (const [name, config] of serversOf(vllm)) {
    const at = (...rest: (string | number)[]) => ["servers", name, ...rest];
    const other = ports.get(config.port);
    if (other !== undefined) {
      problems.push({
        path: at("port"),
        message: `${config.port} is also servers.${other}.port; each server needs its own port`,
      });
    } else ports.set(config.port, name);
    const server = resolveServer(name, config, vllm, host, (p) =>
      problems.push({ path: at(...p.path), message: p.message }),
    );
    if (server) servers.push(server);
  }
  const gpuPlan = planGpus(servers, usableGiB(vllm, host));
  for (const share of gpuPlan) {
    const blocked = firstBlocked(share);
    if (!blocked) continue;
    const { index, freeGiB } = blocked;
    const s = share.servers[index] as GpuShare["servers"][number];
    const earlier = share.servers
      .slice(0, index)
      .map((e) => `servers.${e.server} (${e.reservedGiB} GiB share + ${e.baselineGiB} GiB baseline)`);
    const fits = Math.floor((freeGiB / share.totalGiB) * 100) / 100;
    problems.push({
      path: ["servers", s.server, "gpuMemoryUtilization"],
      message:
        `servers.${s.server} would not get its share of GPU ${share.gpu} on ${vllm.host}` +
        (earlier.length ? ` after ${earlier.join(" and ")}, which start before it` : "") +
        `: its share is ${s.reservedGiB} GiB (${s.utilization} of the ${share.totalGiB} GiB cudaMemGetInfo reports) beside its own ${s.baselineGiB} GiB baseline (CUDA context, cuBLAS, NCCL: v1/worker/gpu_worker.py init_device@v0.34.0), but only ${round2(freeGiB)} GiB is left. ` +
        `vLLM 0.34 takes the share as a cap and does not check at start that it is free (the extensible KV cache, the default on CUDA: v1/worker/utils.py request_memory, config/cache.py@v0.34.0), so its KV cache would run out of memory as it fills. ` +
        (fits > 0
          ? `Lower servers.${s.server}.gpuMemoryUtilization to ${fits}`
          : `Move servers.${s.server} to another GPU`),
    });
  }
  return { problems, resolved: { config: vllm, hostName: vllm.host, host, servers, gpuPlan } };
}

/** What vLLM sees as each GPU's total: the nominal memoryGiB less what the driver keeps. */
export function usableGiB(vllm: Pick<VllmConfig, "driverReservedGiB">, host: HostConfig): number {
  return round2((host.nvidia?.gpus.memoryGiB ?? 0) - vllm.driverReservedGiB);
}

/**
 * Per GPU, every server's share and baseline, in the order the servers start: by name, the order
 * the Vllm component creates them in (each container waits for the earlier ones on its GPUs).
 */
export function planGpus(servers: readonly ResolvedServer[], totalGiB: number): GpuShare[] {
  const byGpu = new Map<string, GpuShare["servers"]>();
  for (const s of [...servers].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    for (const gpu of s.gpuIds) {
      // The plan's budget is the server's share of each of its GPUs.
      byGpu.set(gpu, [
        ...(byGpu.get(gpu) ?? []),
        {
          server: s.name,
          utilization: s.config.gpuMemoryUtilization,
          reservedGiB: s.plan.perGpu.budgetGiB,
          baselineGiB: s.baselineGiB,
        },
      ]);
    }
  }
  const order = (g: string) => (/^\d+$/.test(g) ? Number(g) : Number.MAX_SAFE_INTEGER);
  return [...byGpu.entries()]
    .sort(([a], [b]) => order(a) - order(b) || (a < b ? -1 : 1))
    .map(([gpu, list]) => {
      const utilization = round2(list.reduce((sum, s) => sum + s.utilization, 0));
      const reservedGiB = round2(list.reduce((sum, s) => sum + s.reservedGiB + s.baselineGiB, 0));
      return {
        gpu,
        servers: list,
        utilization,
        reservedGiB,
        totalGiB,
        freeGiB: round2(totalGiB - reservedGiB),
      };
    });
}

/**
 * The first server on a GPU that would not get its share, with the memory it would find free. A
 * server starts with what the earlier ones hold (share and baseline) gone and allocates its own
 * baseline before its memory snapshot (v1/worker/gpu_worker.py `init_device`@v0.34.0); its share
 * of the total is only a cap. With the extensible KV cache, the default on CUDA at v0.34.0, vLLM
 * no longer refuses to start when less than the share is free (v1/worker/utils.py
 * `request_memory`, config/cache.py): the KV cache grows into what is free and runs out there.
 */
export function firstBlocked(share: GpuShare): { index: number; freeGiB: number } | undefined {
  let held = 0;
  for (const [index, s] of share.servers.entries()) {
    const freeGiB = share.totalGiB - held - s.baselineGiB;
    if (freeGiB + 1e-9 < share.totalGiB * s.utilization) return { index, freeGiB };
    held += share.totalGiB * s.utilization + s.baselineGiB;
  }
  return undefined;
}

function resolveServer(
  name: string,
  config: VllmServerConfig,
  vllm: VllmConfig,
  host: HostConfig,
  problem: (p: Problem) => void,
): ResolvedServer | undefined {
  const nvidia = host.nvidia as NonNullable<HostConfig["nvidia"]>;
  const gpuCount = nvidia.gpus.count;
  let gpus = "all";
  let gpuIds = Array.from({ length: gpuCount }, (_, i) => String(i));
  let selected = gpuCount;
  if (config.gpus !== "all") {
    const list = config.gpus;
    selected = list.length;
    gpuIds = list.map(String);
    list.forEach((g, i) => {
      if (typeof g === "number" && g >= gpuCount) {
        problem({
          path: ["gpus", i],
          message:
            gpuCount === 0
              ? `GPU index ${g} does not exist; ${vllm.host} has no GPUs`
              : `GPU index ${g} does not exist; ${vllm.host} has ${gpuCount} GPU${gpuCount === 1 ? "" : "s"} (${gpuCount === 1 ? "0" : `0-${gpuCount - 1}`})`,
        });
      }
      if ((list as (string | number)[]).indexOf(g) !== i)
        problem({ path: ["gpus", i], message: `GPU ${g} is selected twice` });
    });
    // Docker parses --gpus as CSV, so a device list must itself be quoted.
    gpus = `"device=${list.join(",")}"`;
  }
  const tp = config.tensorParallelSize ?? selected;
  if (tp > selected) {
    problem({
      path: ["tensorParallelSize"],
      message: `${tp} is larger than the server's ${selected} selected GPUs; use at most ${selected}, or select more GPUs in its gpus`,
    });
  }
  const facts = config.modelFacts ?? MODEL_CATALOG[config.model];
  if (!facts) {
    problem({
      path: ["modelFacts"],
      message: `${config.model} is not in the built-in catalog (${Object.keys(MODEL_CATALOG).join(", ")}); give its facts from its config.json`,
    });
  }
  config.extraArgs.forEach((arg, i) => {
    const flag = flagOf(arg);
    if (flag && (OWNED_FLAGS as readonly string[]).includes(flag)) {
      problem({
        path: ["extraArgs", i],
        message: `${flag} is set by citadel from its own key; remove it from extraArgs and use that key`,
      });
    }
  });
  if (config.port >= MONITORING_PORTS.min && config.port <= MONITORING_PORTS.max) {
    problem({
      path: ["port"],
      message: `${config.port} is in the monitoring range ${MONITORING_PORTS.min}-${MONITORING_PORTS.max}; vLLM keeps its own API port`,
    });
  }
  const memoryLimitBytes = parseSize(config.memoryLimit) ?? 0;
  if (memoryLimitBytes >= host.memoryGiB * 1024 ** 3) {
    problem({
      path: ["memoryLimit"],
      message: `${config.memoryLimit} is not below ${vllm.host}'s ${host.memoryGiB} GiB of RAM`,
    });
  }
  if (!facts) return undefined;
  const kinds = kindsOf(facts);
  if (!kinds.includes(config.kind)) {
    const fit = Object.entries(MODEL_CATALOG)
      .filter(([, f]) => kindsOf(f).includes(config.kind))
      .map(([id]) => id);
    problem({
      path: ["kind"],
      message: `${config.model} is a ${kinds.join("/")} model (its model card), so a ${config.kind} server cannot serve it; use a ${config.kind} model${fit.length ? ` such as ${fit.join(" or ")}` : ""}, or set kind: ${kinds[0]}`,
    });
  }
  if (facts.attentionHeads % tp !== 0) {
    // Blame the key that set it: tensorParallelSize, or the GPU selection it defaulted from.
    const divisors = [1, 2, 4, 8].filter((d) => d <= selected && facts.attentionHeads % d === 0);
    const largest = divisors[divisors.length - 1] ?? 1;
    problem(
      config.tensorParallelSize === undefined
        ? {
            path: ["gpus"],
            message: `tensor parallelism defaults to the ${selected} selected GPUs, and ${selected} does not divide the model's ${facts.attentionHeads} attention heads, so vLLM refuses it; set tensorParallelSize to ${largest}, or select ${largest} GPUs in gpus`,
          }
        : {
            path: ["tensorParallelSize"],
            message: `${tp} does not divide the model's ${facts.attentionHeads} attention heads, so vLLM refuses it; use ${largest}`,
          },
    );
  }
  if (config.maxModelLen > facts.maxContext) {
    problem({
      path: ["maxModelLen"],
      message: `${config.maxModelLen} is beyond ${config.model}'s context of ${facts.maxContext} tokens; lower vllm.servers.${name}.maxModelLen to ${facts.maxContext} or less`,
    });
  }
  const reserveGiB = config.reserveGiB ?? vllm.reserveGiB;
  const weightBits = servedWeightBits(config.quantization, facts);
  const plan = planVram({
    gpuMemoryGiB: usableGiB(vllm, host),
    tensorParallelSize: tp,
    gpuMemoryUtilization: config.gpuMemoryUtilization,
    model: { ...facts, weightBits },
    kvCacheBytes: config.kvCacheDtype === "fp8" ? 1 : 2,
    maxModelLen: config.maxModelLen,
    reserveGiB,
    at: `vllm.servers.${name}`,
  });
  if (!plan.fits) {
    const key = plan.reason === "weights" ? "model" : "maxModelLen";
    problem({ path: [key], message: describeVramFailure(config.model, vllm.host, plan) });
  }
  return {
    name,
    config,
    container: vllmContainer(name),
    servedModelName: servedModelName(config),
    kind: config.kind,
    facts,
    gpus,
    gpuIds,
    selectedGpus: selected,
    tensorParallelSize: tp,
    memoryLimitBytes,
    reserveGiB,
    baselineGiB: vllm.baselineGiB,
    plan,
  };
}

/** The Phoenix project vLLM's own request spans land in. */
export const VLLM_PHOENIX_PROJECT = "vllm";

/** Container paths of the caches. */
export const HF_CACHE = "/root/.cache/huggingface";
export const VLLM_CACHE = "/root/.cache/vllm";
/** The port vLLM listens on inside its container. */
export const CONTAINER_PORT = 8000;

/** vLLM's own flags for what a server does (vllm/config/model.py@v0.34.0, `runner` and `convert`). */
export const KIND_FLAGS: Readonly<Record<ServerKind, string[]>> = {
  generate: ["--runner", "generate"],
  embed: ["--runner", "pooling", "--convert", "embed"],
  rerank: ["--runner", "pooling", "--convert", "classify"],
};

/**
 * The engine's command line after the image's `vllm serve` entrypoint: the model, flags citadel
 * owns, then the user's extra flags. The model is positional (`vllm serve [model_tag] [options]`,
 * vllm/entrypoints/cli/serve.py@v0.34.0), where `--model` now warns that it will be removed.
 */
export function renderVllmArgs(
  s: ResolvedServer,
  section: Pick<VllmConfig, "geforce">,
  otlpTracesEndpoint?: string,
): string[] {
  const c = s.config;
  return [
    c.model,
    ...KIND_FLAGS[s.kind],
    "--served-model-name",
    s.servedModelName,
    "--host",
    "0.0.0.0",
    "--port",
    String(CONTAINER_PORT),
    "--max-model-len",
    String(c.maxModelLen),
    "--gpu-memory-utilization",
    String(c.gpuMemoryUtilization),
    "--tensor-parallel-size",
    String(s.tensorParallelSize),
    ...(c.quantization ? ["--quantization", c.quantization] : []),
    "--kv-cache-dtype",
    c.kvCacheDtype,
    ...(section.geforce.disableCustomAllReduce && s.tensorParallelSize > 1
      ? ["--disable-custom-all-reduce"]
      : []),
    ...(otlpTracesEndpoint ? ["--otlp-traces-endpoint", otlpTracesEndpoint] : []),
    ...c.extraArgs,
  ];
}

/**
 * Non-secret environment, sorted. The API key, HF token and trace headers are added as secrets by
 * the component. Every server reports to Phoenix as its own service, in the `vllm` project.
 */
export function renderVllmEnv(
  s: ResolvedServer,
  section: Pick<VllmConfig, "geforce">,
  tracing: boolean,
): string[] {
  const env: Record<string, string> = { HF_HOME: HF_CACHE, VLLM_CACHE_ROOT: VLLM_CACHE };
  if (section.geforce.ncclP2PDisable) env.NCCL_P2P_DISABLE = "1";
  // vllm/tracing/otel.py@v0.34.0 builds its gRPC exporter with insecure=True itself, so
  // OTEL_EXPORTER_OTLP_TRACES_INSECURE would change nothing; the service name comes from here.
  if (tracing) {
    env.OTEL_SERVICE_NAME = s.container;
    // vLLM's Resource.create reads OTEL_RESOURCE_ATTRIBUTES (opentelemetry-sdk 1.45.2,
    // sdk/resources/__init__.py, OTELResourceDetector), and Phoenix files spans under the
    // `openinference.project.name` resource attribute (server/api/routers/v1/traces.py@20.26.1).
    env.OTEL_RESOURCE_ATTRIBUTES = `openinference.project.name=${VLLM_PHOENIX_PROJECT}`;
  }
  return Object.keys(env)
    .sort()
    .map((k) => `${k}=${env[k]}`);
}

/**
 * Readiness: the served model is listed by `GET /v1/models` with the API key, which proves the
 * model is loaded (`/health` only proves the process is up). An embed server must also answer
 * `POST /v1/embeddings` with a vector, and a rerank server `POST /rerank` with a score: vLLM
 * serves reranking at `/rerank` and logs a deprecation warning on every `/v1/rerank` call
 * (vllm/entrypoints/pooling/{embed,scoring}/api_router.py@v0.34.0). The key is read from the
 * container's environment, never written into the check.
 */
export function renderHealthcheck(s: ResolvedServer): string[] {
  const served = JSON.stringify(s.servedModelName);
  const call = [
    "def call(path, body=None):",
    "    data = None if body is None else json.dumps(body).encode()",
    `    req = urllib.request.Request("http://127.0.0.1:${CONTAINER_PORT}" + path, data=data, headers={"Authorization": "Bearer " + os.environ["VLLM_API_KEY"], "Content-Type": "application/json"})`,
    "    return json.load(urllib.request.urlopen(req, timeout=5))",
  ];
  const checks: Record<ServerKind, string[]> = {
    generate: [],
    embed: [
      `ok = ok and len(call("/v1/embeddings", {"model": ${served}, "input": "citadel"})["data"][0]["embedding"]) > 0`,
    ],
    rerank: [
      `ok = ok and len(call("/rerank", {"model": ${served}, "query": "citadel", "documents": ["citadel"]})["results"]) == 1`,
    ],
  };
  const script = [
    "import json, os, sys, urllib.request",
    ...call,
    `ok = ${served} in [m["id"] for m in call("/v1/models")["data"]]`,
    ...checks[s.kind],
    "sys.exit(0 if ok else 1)",
  ].join("\n");
  return ["CMD", "python3", "-c", script];
}
