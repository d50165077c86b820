/** The `citadel:vllm` section: the model server on a GPU host. */
import { z } from "zod";
import { SERVER_KINDS } from "../shared/models";
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
  /**
   * An encoder-only model (BERT, XLM-RoBERTa cross-encoders): vLLM gives it no KV cache
   * (EncoderOnlyAttention.get_kv_cache_spec, model_executor/layers/attention@v0.34.0). @default unset: a model with a KV cache
   */
  encoderOnly: z.boolean().optional().meta(example(true)),
  /** What the model was trained to serve (its model card). @default generate only (kindsOf in components/shared/models.ts) */
  kinds: z
    .array(z.enum(SERVER_KINDS))
    .min(1)
    .optional()
    .meta(example(["embed"])),
  /** The Hugging Face repository is gated (needs citadel:huggingfaceToken). @default unset: not gated */
  gated: z.boolean().optional().meta(example(true)),
});

const GpuRef = z.union([
  z.number().int().min(0),
  z.string().regex(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, {
    error: "must be a GPU index or a UUID as nvidia-smi -L prints it (GPU-xxxxxxxx-...)",
  }),
]);

/** One vLLM server: one container, one model, one port. */
export const VllmServerSchema = z.strictObject({
  /** Hugging Face model id. */
  model: z
    .string()
    .regex(/^[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+$/, { error: "must be a Hugging Face model id, org/name" })
    .meta(example("Qwen/Qwen3-8B")),
  /** generate, embed or rerank. @default "generate" */
  kind: z.enum(SERVER_KINDS).default("generate").meta(example("embed")),
  /** The name clients ask for. @default the model id */
  servedModelName: z
    .string()
    .regex(/^[A-Za-z0-9._/-]+$/, { error: "must be letters, digits, . _ / -" })
    .optional()
    .meta(example("qwen3-8b")),
  /** Always set: vLLM's default is the model's full context, which often does not fit. */
  maxModelLen: z.number().int().min(256).meta(example(32768)),
  /**
   * Fraction of each selected GPU's total memory (as cudaMemGetInfo reports it) this server
   * reserves, in (0, 1). Each server also holds its baselineGiB outside that share, so on one GPU
   * the shares plus the baselines must fit the total, in the order the servers start. @default 0.9
   */
  gpuMemoryUtilization: z.number().gt(0).max(1).default(0.9).meta(example(0.9)),
  /** `all`, or GPUs by index or UUID. @default "all" */
  gpus: z
    .union([z.literal("all"), z.array(GpuRef).min(1)])
    .default("all")
    .meta(example([0, 1])),
  /** @default the number of selected GPUs */
  tensorParallelSize: z.number().int().min(1).optional().meta(example(2)),
  /**
   * `fp8_per_tensor` quantizes a 16-bit checkpoint's linear layers to fp8 while loading; the
   * others name a quantized checkpoint's format. @default none (the model's own precision)
   */
  quantization: z
    .enum(["awq", "awq_marlin", "gptq", "gptq_marlin", "fp8_per_tensor", "bitsandbytes"], {
      error: (issue) =>
        issue.input === "fp8"
          ? // model_executor/model_loader/weight_utils.py@v0.34.0 warns and maps it.
            "fp8 is vLLM's deprecated name for online fp8 quantization; write fp8_per_tensor, the name vLLM 0.34.0 maps it to"
          : undefined,
    })
    .optional()
    .meta(example("fp8_per_tensor")),
  /** @default "auto" */
  kvCacheDtype: z.enum(["auto", "fp8"]).default("auto").meta(example("fp8")),
  /** Extra engine flags; flags citadel owns are refused. @default [] */
  extraArgs: z
    .array(z.string().min(1))
    .default([])
    .meta(example(["--enable-chunked-prefill"])),
  /** Host port of this server's OpenAI API (outside the monitoring range, one per server). */
  port: z.number().int().min(1024).max(65535).meta(example(8000)),
  /** Container memory limit (host RAM, not VRAM). @default "32GiB" */
  memoryLimit: z
    .string()
    .regex(SIZE_PATTERN, { error: "must be a size such as 32GiB" })
    .default("32GiB")
    .meta(example("32GiB")),
  /** Per-GPU reserve for activations inside this server's share. @default the section's reserveGiB */
  reserveGiB: z.number().min(0).max(64).optional().meta(example(1.5)),
  /** Model facts for the VRAM plan; required when the model is not in the built-in catalog. */
  modelFacts: ModelFactsSchema.optional(),
});

export type VllmServerConfig = z.output<typeof VllmServerSchema>;

/** A server's name: it names its container (`vllm-<name>`), its network alias and its resources. */
export const SERVER_NAME = /^[a-z][a-z0-9-]{0,23}$/;

/** A server's container, which is also its alias on the lab network and its log `container` label. */
export function vllmContainer(server: string): string {
  return `vllm-${server}`;
}

/** Keys that moved from `citadel:vllm` into `citadel:vllm.servers.<name>` when servers became many. */
export const SERVER_KEYS = Object.keys(VllmServerSchema.shape);

export const VllmSchema = z.strictObject({
  /** The GPU host every server runs on. @default "citadel" */
  host: z.string().default("citadel").meta(example("citadel")),
  /**
   * The `vllm/vllm-openai` image, shared by every server. Its tag is pinned in components/pins.ts
   * with the vLLM release the conformance tier checks the argv against; here it may only gain a
   * digest.
   * @default the pinned image
   */
  image: ImageRef.default(imageOf(PINS.vllm))
    .refine((v) => v.split("@")[0] === imageOf(PINS.vllm), {
      error: `must be ${imageOf(PINS.vllm)}, optionally with @sha256:<digest>; the tag is bumped in components/pins.ts together with the vLLM release that checks it`,
    })
    .meta(example(imageOf(PINS.vllm))),
  /** The servers, by name. At least one. */
  servers: z
    .record(
      z.string().regex(SERVER_NAME, {
        error:
          "a server name is 1-24 lowercase letters, digits or -, starting with a letter (e.g. chat, embed)",
      }),
      VllmServerSchema,
    )
    .refine((s) => Object.keys(s).length > 0, { error: "declare at least one server, e.g. servers.chat" })
    .meta(example({ chat: { model: "Qwen/Qwen3-8B", maxModelLen: 32768, gpus: [0], port: 8000 } })),
  /** Host directory for the Hugging Face and vLLM compile caches, shared by the servers. @default "/srv/models" */
  cacheDir: z
    .string()
    .regex(/^\/[A-Za-z0-9._/-]+$/, { error: "must be an absolute path" })
    .default("/srv/models")
    .meta(example("/srv/models")),
  /** How long a server's create waits for its model to download and load. @default 1800 */
  startupTimeoutSeconds: z.number().int().min(60).max(86400).default(1800).meta(example(1800)),
  /**
   * Per-GPU reserve inside each server's share for its peak activations and the non-torch memory
   * it allocates after its memory snapshot; a server may override it. @default 2.5
   */
  reserveGiB: z.number().min(0).max(64).default(2.5).meta(example(2.5)),
  /**
   * Per server process and GPU: what vLLM holds before its memory snapshot (CUDA context, cuBLAS
   * handles, NCCL buffers; vllm/v1/worker/gpu_worker.py@v0.34.0, `init_device`), outside its
   * gpuMemoryUtilization share. Read it with nvidia-smi after vLLM logs its init snapshot.
   * @default 0.5
   */
  baselineGiB: z.number().min(0).max(16).default(0.5).meta(example(0.5)),
  /**
   * What the driver keeps of each GPU: the total cudaMemGetInfo reports (and vLLM multiplies by
   * gpuMemoryUtilization, vllm/utils/mem_utils.py@v0.34.0) is the nominal memoryGiB minus this.
   * Read it with `python3 -c "import torch; print(torch.cuda.mem_get_info())"` in a vLLM container.
   * @default 0.4
   */
  driverReservedGiB: z.number().min(0).max(16).default(0.4).meta(example(0.4)),
  /** Defaults for GeForce cards without NVLink or P2P. */
  geforce: z
    .strictObject({
      /** NCCL_P2P_DISABLE=1. @default true */
      ncclP2PDisable: z.boolean().default(true).meta(example(true)),
      /** --disable-custom-all-reduce when TP > 1. @default true */
      disableCustomAllReduce: z.boolean().default(true).meta(example(true)),
    })
    .prefault({}),
  /** OTLP traces endpoint (Phoenix), e.g. grpc://phoenix:4317. @default the LadonStack's Phoenix, else none */
  otlpTracesEndpoint: z
    .string()
    .regex(/^(grpc|http|https):\/\/[A-Za-z0-9.-]+(:\d+)?(\/.*)?$/, {
      error: "must be a grpc:// or http(s):// URL",
    })
    .optional()
    .meta(example("grpc://phoenix:4317")),
});

export type VllmConfig = z.output<typeof VllmSchema>;

/** The section's own keys. `reserveGiB` is one as well as a server's (the servers' fallback). */
export const SECTION_KEYS = Object.keys(VllmSchema.shape);

/** The name clients ask for: `servedModelName`, or the model id when it is not set. */
export function servedModelName(server: Pick<VllmServerConfig, "model" | "servedModelName">): string {
  return server.servedModelName ?? server.model;
}

/** The servers in name order. */
export function serversOf(vllm: VllmConfig): [string, VllmServerConfig][] {
  return Object.entries(vllm.servers).sort(([a], [b]) => (a < b ? -1 : 1));
}
