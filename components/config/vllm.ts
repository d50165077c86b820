/** The `citadel:vllm` section: the model server on a GPU host. */
import { z } from "zod";
import { imageOf, PINS } from "../pins";
import { SIZE_PATTERN } from "./units";

const example = (value: unknown) => ({ example: value });

/** An image reference with an explicit tag (never `latest`), optionally pinned by digest. */
export const ImageRef = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._/-]*:[A-Za-z0-9._-]+(@sha256:[a-f0-9]{64})?$/, {
    error: "must be an image with an explicit tag, e.g. repo/name:v1.2.3 (a digest may follow)",
  })
  .refine((v) => !/:latest(@|$)/.test(v), { error: "must not use the latest tag; pin a version" });

export const ModelFactsSchema = z.strictObject({
  parametersB: z.number().positive().meta(example(8.03)),
  weightBits: z.union([z.literal(4), z.literal(8), z.literal(16), z.literal(32)]).meta(example(16)),
  layers: z.number().int().positive().meta(example(32)),
  attentionHeads: z.number().int().positive().meta(example(32)),
  kvHeads: z.number().int().positive().meta(example(8)),
  headDim: z.number().int().positive().meta(example(128)),
  maxContext: z.number().int().positive().meta(example(131072)),
  vocabSize: z.number().int().positive().meta(example(128256)),
  hiddenSize: z.number().int().positive().meta(example(4096)),
  tiedEmbeddings: z.boolean().meta(example(false)),
});

const GpuRef = z.union([
  z.number().int().min(0),
  z.string().regex(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, {
    error: "must be a GPU index or a UUID as nvidia-smi -L prints it (GPU-xxxxxxxx-...)",
  }),
]);

export const VllmSchema = z.strictObject({
  /** The GPU host it runs on. @default "citadel" */
  host: z.string().default("citadel").meta(example("citadel")),
  /**
   * The `vllm/vllm-openai` image. Its tag is pinned in components/pins.ts with the vLLM release
   * the conformance tier checks the argv against; here it may only gain a digest.
   * @default the pinned image
   */
  image: ImageRef.default(imageOf(PINS.vllm))
    .refine((v) => v.split("@")[0] === imageOf(PINS.vllm), {
      error: `must be ${imageOf(PINS.vllm)}, optionally with @sha256:<digest>; the tag is bumped in components/pins.ts together with the vLLM release that checks it`,
    })
    .meta(example(imageOf(PINS.vllm))),
  /** Hugging Face model id. */
  model: z
    .string()
    .regex(/^[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+$/, { error: "must be a Hugging Face model id, org/name" })
    .meta(example("Qwen/Qwen3-8B")),
  /** The name clients ask for. @default the model id */
  servedModelName: z
    .string()
    .regex(/^[A-Za-z0-9._/-]+$/, { error: "must be letters, digits, . _ / -" })
    .optional()
    .meta(example("qwen3-8b")),
  /** Always set: vLLM's default is the model's full context, which often does not fit. */
  maxModelLen: z.number().int().min(256).meta(example(32768)),
  /** Fraction of each GPU's total memory vLLM reserves, in (0, 1]. @default 0.9 */
  gpuMemoryUtilization: z.number().gt(0).max(1).default(0.9).meta(example(0.9)),
  /** `all`, or GPUs by index or UUID. @default "all" */
  gpus: z
    .union([z.literal("all"), z.array(GpuRef).min(1)])
    .default("all")
    .meta(example([0, 1])),
  /** @default the number of selected GPUs */
  tensorParallelSize: z.number().int().min(1).optional().meta(example(2)),
  /** @default none (the model's own precision) */
  quantization: z
    .enum(["awq", "awq_marlin", "gptq", "gptq_marlin", "fp8", "bitsandbytes"])
    .optional()
    .meta(example("awq")),
  /** @default "auto" */
  kvCacheDtype: z.enum(["auto", "fp8"]).default("auto").meta(example("fp8")),
  /** Extra engine flags; flags citadel owns are refused. @default [] */
  extraArgs: z
    .array(z.string().min(1))
    .default([])
    .meta(example(["--enable-chunked-prefill"])),
  /** Host port of the OpenAI API (outside the monitoring range). @default 8000 */
  port: z.number().int().min(1024).max(65535).default(8000).meta(example(8000)),
  /** Container memory limit (host RAM, not VRAM). @default "32GiB" */
  memoryLimit: z
    .string()
    .regex(SIZE_PATTERN, { error: "must be a size such as 32GiB" })
    .default("32GiB")
    .meta(example("32GiB")),
  /** Host directory for the Hugging Face and vLLM compile caches, on the big disk. @default "/srv/models" */
  cacheDir: z
    .string()
    .regex(/^\/[A-Za-z0-9._/-]+$/, { error: "must be an absolute path" })
    .default("/srv/models")
    .meta(example("/srv/models")),
  /** How long create waits for the model to download and load. @default 1800 */
  startupTimeoutSeconds: z.number().int().min(60).max(86400).default(1800).meta(example(1800)),
  /** Per-GPU reserve for activations, CUDA context and NCCL in the VRAM plan. @default 2.5 */
  reserveGiB: z.number().min(0).max(64).default(2.5).meta(example(2.5)),
  /** Defaults for GeForce cards without NVLink or P2P. */
  geforce: z
    .strictObject({
      /** NCCL_P2P_DISABLE=1. @default true */
      ncclP2PDisable: z.boolean().default(true).meta(example(true)),
      /** --disable-custom-all-reduce when TP > 1. @default true */
      disableCustomAllReduce: z.boolean().default(true).meta(example(true)),
    })
    .prefault({}),
  /** OTLP traces endpoint (Phoenix), e.g. grpc://phoenix:4317. @default none */
  otlpTracesEndpoint: z
    .string()
    .regex(/^(grpc|http|https):\/\/[A-Za-z0-9.-]+(:\d+)?(\/.*)?$/, {
      error: "must be a grpc:// or http(s):// URL",
    })
    .optional()
    .meta(example("grpc://phoenix:4317")),
  /** Model facts for the VRAM plan; required when the model is not in the built-in catalog. */
  modelFacts: ModelFactsSchema.optional(),
});

export type VllmConfig = z.output<typeof VllmSchema>;

/** The name clients ask for: `servedModelName`, or the model id when it is not set. */
export function servedModelName(vllm: VllmConfig): string {
  return vllm.servedModelName ?? vllm.model;
}
