/**
 * The VRAM plan: will vLLM start this model on these GPUs? A pure function of config, modelled on
 * how vLLM sizes memory per GPU:
 *   budget    = GPU memory × gpu-memory-utilization           (vLLM's reservation)
 *   weights   = weightBytes(model) / tensor-parallel size
 *   KV budget = budget − weights − reserve                    (reserve: activations, CUDA context, NCCL)
 *   KV bytes per token = 2 × layers × max(1, kvHeads / TP) × headDim × KV dtype bytes
 * vLLM refuses to start when the weights do not fit, or when one request of max-model-len tokens
 * does not fit in the KV budget (v1/core/kv_cache_planning.py@v0.34.0,
 * _check_enough_kv_cache_memory). An encoder-only model (a cross-encoder reranker) has no KV cache:
 * it fits when its weights and the reserve for its activations do.
 *
 * GPU memory here is the total vLLM sees (cudaMemGetInfo, below the nominal size), and the budget
 * leaves out the server's own baseline (CUDA context, cuBLAS, NCCL), which vLLM allocates before
 * its memory snapshot; whether the servers of one GPU can start is checked in resolve.ts.
 */
import type { ModelFacts } from "../shared/models";

const GiB = 1024 ** 3;
/**
 * vLLM allocates the KV cache in blocks of 64 tokens unless `--block-size` says otherwise
 * (CacheConfig.DEFAULT_BLOCK_SIZE, config/cache.py@v0.34.0; 16 up to v0.33).
 */
export const KV_BLOCK_TOKENS = 64;

export interface VramInput {
  /** What vLLM takes as each GPU's total: cudaMemGetInfo's, below the nominal size. */
  gpuMemoryGiB: number;
  tensorParallelSize: number;
  /** Fraction of each GPU's total memory vLLM may reserve, in (0, 1]. */
  gpuMemoryUtilization: number;
  model: ModelFacts;
  /** Bytes per KV cache element: 2 for bf16/fp16 ("auto" on these models), 1 for fp8. */
  kvCacheBytes: number;
  maxModelLen: number;
  /** Per-GPU reserve inside the budget for peak activations and non-torch memory after the snapshot. */
  reserveGiB: number;
  /** The config path the fixes name, e.g. `vllm.servers.chat`. @default "vllm" */
  at?: string;
}

export interface VramPlan {
  tensorParallelSize: number;
  gpuMemoryUtilization: number;
  maxModelLen: number;
  perGpu: {
    budgetGiB: number;
    weightsGiB: number;
    reserveGiB: number;
    kvBudgetGiB: number;
    kvBytesPerToken: number;
    tokensThatFit: number;
    /** How many requests of max-model-len tokens fit at once. */
    concurrencyAtMaxModelLen: number;
  };
  fits: boolean;
  /** What does not fit: the weights themselves, or one max-model-len request's KV cache. */
  reason: "weights" | "kvCache" | null;
  /** Why it does not fit, empty when it does. */
  problems: string[];
  /** What to change, empty when it fits. */
  fixes: string[];
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** AWQ and GPTQ checkpoints carry a 16-bit scale and a packed zero point per group of 128 weights. */
export const QUANT_GROUP_SIZE = 128;

/**
 * The bytes of the weights as served. Quantized checkpoints (AWQ, GPTQ, fp8) keep the embeddings
 * and an untied lm_head in 16 bit and add scales, so parameters × bits / 8 underestimates them:
 * Qwen2.5-14B-AWQ is about 9.3 GiB, not 6.85.
 */
export function weightBytes(model: ModelFacts): number {
  const params = model.parametersB * 1e9;
  if (model.weightBits >= 16) return (params * model.weightBits) / 8;
  const embedding = model.vocabSize * model.hiddenSize * (model.tiedEmbeddings ? 1 : 2);
  const quantized = Math.max(0, params - embedding);
  const scales = model.weightBits <= 4 ? (quantized * (2 + model.weightBits / 8)) / QUANT_GROUP_SIZE : 0;
  return embedding * 2 + (quantized * model.weightBits) / 8 + scales;
}

/**
 * Bits per weight as vLLM serves a model: `fp8_per_tensor` quantizes a 16-bit checkpoint's linear
 * layers to fp8 while loading (`_ONLINE_SHORTHANDS`, vllm/config/quantization.py@v0.34.0); the
 * embeddings stay 16-bit, as `weightBytes` counts them. Other methods name the checkpoint's own format.
 */
export function servedWeightBits(quantization: string | undefined, facts: ModelFacts): number {
  return quantization === "fp8_per_tensor" ? Math.min(8, facts.weightBits) : facts.weightBits;
}

export function kvBytesPerToken(model: ModelFacts, tp: number, kvCacheBytes: number): number {
  return 2 * model.layers * Math.max(1, model.kvHeads / tp) * model.headDim * kvCacheBytes;
}

export function planVram(input: VramInput): VramPlan {
  const { model, tensorParallelSize: tp, gpuMemoryUtilization: util, maxModelLen } = input;
  const at = input.at ?? "vllm";
  const budget = input.gpuMemoryGiB * util;
  const weights = weightBytes(model) / tp / GiB;
  const kvBudget = budget - weights - input.reserveGiB;
  const encoderOnly = model.encoderOnly === true;
  // No KV cache: only max-model-len limits one request (encoder_only_attention.py@v0.34.0).
  const perToken = encoderOnly ? 0 : kvBytesPerToken(model, tp, input.kvCacheBytes);
  const tokens = encoderOnly ? maxModelLen : Math.max(0, Math.floor((kvBudget * GiB) / perToken));
  const problems: string[] = [];
  const fixes: string[] = [];

  const need = (kvTokens: number) => weights + input.reserveGiB + (kvTokens * perToken) / GiB;
  // Rounded up: a suggestion rounded down would still not fit.
  const neededUtil = Math.ceil((need(maxModelLen) / input.gpuMemoryGiB) * 100) / 100;
  // Never more than the model's own context: a longer suggestion would be refused in turn.
  const largestLen = Math.min(Math.floor(tokens / KV_BLOCK_TOKENS) * KV_BLOCK_TOKENS, model.maxContext);
  const weightsDoNotFit = weights + input.reserveGiB > budget;
  if (weightsDoNotFit) {
    problems.push(
      `the weights need ${round(weights)} GiB per GPU at TP=${tp}, plus a ${input.reserveGiB} GiB reserve, but of each GPU's ${input.gpuMemoryGiB} GiB (the total cudaMemGetInfo reports) vLLM takes ${round(budget)} GiB at gpu-memory-utilization ${util}`,
    );
  } else if (tokens < maxModelLen) {
    problems.push(
      `one request of max-model-len ${maxModelLen} tokens needs ${round((maxModelLen * perToken) / GiB)} GiB of KV cache per GPU, but only ${round(kvBudget)} GiB (${tokens} tokens) is left after ${round(weights)} GiB of weights and the ${input.reserveGiB} GiB reserve`,
    );
    if (largestLen > 0) fixes.push(`lower ${at}.maxModelLen to ${largestLen} or less`);
  }
  if (problems.length > 0) {
    if (neededUtil <= 0.95) fixes.push(`raise ${at}.gpuMemoryUtilization to ${neededUtil}`);
    fixes.push(`spread the model over more GPUs (${at}.gpus, ${at}.tensorParallelSize)`);
    if (model.weightBits > 8) fixes.push(`set ${at}.quantization to "fp8_per_tensor" to halve the weights`);
    if (model.weightBits > 4) fixes.push("serve a quantized build of the model (AWQ/GPTQ 4-bit)");
    // A smaller KV cache only helps when the weights already fit, and only a decoder has one.
    if (!weightsDoNotFit && !encoderOnly && input.kvCacheBytes > 1)
      fixes.push(`set ${at}.kvCacheDtype to "fp8" to halve the KV cache`);
  }
  return {
    tensorParallelSize: tp,
    gpuMemoryUtilization: util,
    maxModelLen,
    perGpu: {
      budgetGiB: round(budget),
      weightsGiB: round(weights),
      reserveGiB: input.reserveGiB,
      kvBudgetGiB: encoderOnly ? 0 : round(Math.max(0, kvBudget)),
      kvBytesPerToken: perToken,
      tokensThatFit: tokens,
      concurrencyAtMaxModelLen: round(tokens / maxModelLen),
    },
    fits: problems.length === 0,
    reason: weightsDoNotFit ? "weights" : problems.length > 0 ? "kvCache" : null,
    problems,
    fixes,
  };
}

/** The failure message: the numbers, then what to change. */
export function describeVramFailure(model: string, host: string, plan: VramPlan): string {
  return `vLLM could not start ${model} on ${host}: ${plan.problems.join("; ")}. Fix: ${plan.fixes.join("; or ")}`;
}
