/**
 * Turns `citadel:vllm` plus its host into everything the container and the checks need, and lists
 * what is wrong with it. Pure: used by the schema (plan-time errors) and by the component.
 */
import type { HostConfig, LabConfig } from "../config/schema";
import { servedModelName, type VllmConfig } from "../config/vllm";
import { parseSize } from "../config/units";
import { imageOf, PINS } from "../pins";
import { MODEL_CATALOG, type ModelFacts } from "./catalog";
import { describeVramFailure, planVram, type VramPlan } from "./vram";

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
] as const;

/** The monitoring port range; vLLM keeps its API port outside it. */
export const MONITORING_PORTS = { min: 9900, max: 9999 } as const;

export interface ResolvedVllm {
  config: VllmConfig;
  hostName: string;
  host: HostConfig;
  servedModelName: string;
  facts: ModelFacts;
  /** The value for docker's `gpus`: `all`, or a quoted CSV device list. */
  gpus: string;
  selectedGpus: number;
  tensorParallelSize: number;
  memoryLimitBytes: number;
  plan: VramPlan;
}

export interface VllmProblem {
  /** Path under the `vllm` section. */
  path: (string | number)[];
  message: string;
}

/** The flag an argument sets, normalised (`--max_model_len=8` → `--max-model-len`). */
export function flagOf(arg: string): string | undefined {
  if (!arg.startsWith("-")) return undefined;
  const name = arg.split("=")[0] as string;
  return name.startsWith("--") ? `--${name.slice(2).replace(/_/g, "-")}` : name;
}

/** Resolves the section; `problems` is empty when vLLM can start as configured. */
export function resolveVllm(
  lab: Pick<LabConfig, "hosts">,
  vllm: VllmConfig,
): { resolved?: ResolvedVllm; problems: VllmProblem[] } {
  const problems: VllmProblem[] = [];
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
  const gpuCount = host.nvidia.gpus.count;
  let gpus = "all";
  let selected = gpuCount;
  if (vllm.gpus !== "all") {
    selected = vllm.gpus.length;
    vllm.gpus.forEach((g, i) => {
      if (typeof g === "number" && g >= gpuCount) {
        problems.push({
          path: ["gpus", i],
          message: `GPU index ${g} does not exist; ${vllm.host} has ${gpuCount} GPUs (0-${gpuCount - 1})`,
        });
      }
      if ((vllm.gpus as (string | number)[]).indexOf(g) !== i)
        problems.push({ path: ["gpus", i], message: `GPU ${g} is selected twice` });
    });
    // Docker parses --gpus as CSV, so a device list must itself be quoted.
    gpus = `"device=${vllm.gpus.join(",")}"`;
  }
  const tp = vllm.tensorParallelSize ?? selected;
  if (tp > selected) {
    problems.push({
      path: ["tensorParallelSize"],
      message: `${tp} is larger than the ${selected} selected GPUs; use at most ${selected}, or select more GPUs`,
    });
  }
  const facts = vllm.modelFacts ?? MODEL_CATALOG[vllm.model];
  if (!facts) {
    problems.push({
      path: ["modelFacts"],
      message: `${vllm.model} is not in the built-in catalog (${Object.keys(MODEL_CATALOG).join(", ")}); give its facts from its config.json`,
    });
  }
  vllm.extraArgs.forEach((arg, i) => {
    const flag = flagOf(arg);
    if (flag && (OWNED_FLAGS as readonly string[]).includes(flag)) {
      problems.push({
        path: ["extraArgs", i],
        message: `${flag} is set by citadel from its own key; remove it from extraArgs and use that key`,
      });
    }
  });
  if (vllm.port >= MONITORING_PORTS.min && vllm.port <= MONITORING_PORTS.max) {
    problems.push({
      path: ["port"],
      message: `${vllm.port} is in the monitoring range ${MONITORING_PORTS.min}-${MONITORING_PORTS.max}; vLLM keeps its own API port`,
    });
  }
  const memoryLimitBytes = parseSize(vllm.memoryLimit) ?? 0;
  if (memoryLimitBytes >= host.memoryGiB * 1024 ** 3) {
    problems.push({
      path: ["memoryLimit"],
      message: `${vllm.memoryLimit} is not below ${vllm.host}'s ${host.memoryGiB} GiB of RAM`,
    });
  }
  if (!facts) return { problems };
  if (facts.attentionHeads % tp !== 0) {
    // Blame the key that set it: tensorParallelSize, or the GPU selection it defaulted from.
    const divisors = [1, 2, 4, 8].filter((d) => d <= selected && facts.attentionHeads % d === 0);
    const largest = divisors[divisors.length - 1] ?? 1;
    problems.push(
      vllm.tensorParallelSize === undefined
        ? {
            path: ["gpus"],
            message: `tensor parallelism defaults to the ${selected} selected GPUs, and ${selected} does not divide the model's ${facts.attentionHeads} attention heads, so vLLM refuses it; set vllm.tensorParallelSize to ${largest}, or select ${largest} GPUs in vllm.gpus`,
          }
        : {
            path: ["tensorParallelSize"],
            message: `${tp} does not divide the model's ${facts.attentionHeads} attention heads, so vLLM refuses it; use ${largest}`,
          },
    );
  }
  if (vllm.maxModelLen > facts.maxContext) {
    problems.push({
      path: ["maxModelLen"],
      message: `${vllm.maxModelLen} is beyond ${vllm.model}'s context of ${facts.maxContext} tokens`,
    });
  }
  const weightBits = vllm.quantization === "fp8" ? Math.min(8, facts.weightBits) : facts.weightBits;
  const plan = planVram({
    gpuMemoryGiB: host.nvidia.gpus.memoryGiB,
    tensorParallelSize: tp,
    gpuMemoryUtilization: vllm.gpuMemoryUtilization,
    model: { ...facts, weightBits },
    kvCacheBytes: vllm.kvCacheDtype === "fp8" ? 1 : 2,
    maxModelLen: vllm.maxModelLen,
    reserveGiB: vllm.reserveGiB,
  });
  if (!plan.fits) {
    const key = plan.reason === "weights" ? "model" : "maxModelLen";
    problems.push({ path: [key], message: describeVramFailure(vllm.model, vllm.host, plan) });
  }
  return {
    problems,
    resolved: {
      config: vllm,
      hostName: vllm.host,
      host,
      servedModelName: servedModelName(vllm),
      facts,
      gpus,
      selectedGpus: selected,
      tensorParallelSize: tp,
      memoryLimitBytes,
      plan,
    },
  };
}

/** Container paths of the caches. */
export const HF_CACHE = "/root/.cache/huggingface";
export const VLLM_CACHE = "/root/.cache/vllm";
/** The port vLLM listens on inside its container. */
export const CONTAINER_PORT = 8000;

/**
 * The engine's command line after the image's `vllm serve` entrypoint: the model, flags citadel
 * owns, then the user's extra flags. The model is positional (`vllm serve [model_tag] [options]`,
 * vllm/entrypoints/cli/serve.py@v0.33.0), where `--model` now warns that it will be removed.
 */
export function renderVllmArgs(v: ResolvedVllm, otlpTracesEndpoint?: string): string[] {
  const c = v.config;
  return [
    c.model,
    "--served-model-name",
    v.servedModelName,
    "--host",
    "0.0.0.0",
    "--port",
    String(CONTAINER_PORT),
    "--max-model-len",
    String(c.maxModelLen),
    "--gpu-memory-utilization",
    String(c.gpuMemoryUtilization),
    "--tensor-parallel-size",
    String(v.tensorParallelSize),
    ...(c.quantization ? ["--quantization", c.quantization] : []),
    "--kv-cache-dtype",
    c.kvCacheDtype,
    ...(c.geforce.disableCustomAllReduce && v.tensorParallelSize > 1 ? ["--disable-custom-all-reduce"] : []),
    ...(otlpTracesEndpoint ? ["--otlp-traces-endpoint", otlpTracesEndpoint] : []),
    ...c.extraArgs,
  ];
}

/** Non-secret environment, sorted. The API key and HF token are added as secrets by the component. */
export function renderVllmEnv(v: ResolvedVllm, tracing: boolean): string[] {
  const env: Record<string, string> = { HF_HOME: HF_CACHE, VLLM_CACHE_ROOT: VLLM_CACHE };
  if (v.config.geforce.ncclP2PDisable) env.NCCL_P2P_DISABLE = "1";
  // vllm/tracing/otel.py@v0.33.0 builds its gRPC exporter with insecure=True itself, so
  // OTEL_EXPORTER_OTLP_TRACES_INSECURE would change nothing; the service name comes from here.
  if (tracing) env.OTEL_SERVICE_NAME = "vllm";
  return Object.keys(env)
    .sort()
    .map((k) => `${k}=${env[k]}`);
}

/**
 * Readiness: the served model is listed by `GET /v1/models` with the API key, which proves the
 * model is loaded (`/health` only proves the process is up). The key is read from the
 * container's environment, never written into the check.
 */
export function renderHealthcheck(v: ResolvedVllm): string[] {
  const script = [
    "import json, os, sys, urllib.request",
    `req = urllib.request.Request("http://127.0.0.1:${CONTAINER_PORT}/v1/models", headers={"Authorization": "Bearer " + os.environ["VLLM_API_KEY"]})`,
    "ids = [m['id'] for m in json.load(urllib.request.urlopen(req, timeout=5))['data']]",
    `sys.exit(0 if ${JSON.stringify(v.servedModelName)} in ids else 1)`,
  ].join("; ");
  return ["CMD", "python3", "-c", script];
}
