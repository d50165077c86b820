import type { StackValidationPolicy } from "@pulumi/policy";
import { MODEL_CATALOG, type ModelFacts } from "../../components/shared/models";
import { describeVramFailure, planVram, servedWeightBits } from "../../components/plan/vram";
import { flagValue, serviceOf, TYPES } from "../lib/resources";
import { requestedGpus } from "./require-gpu-requests";

interface Config {
  gpuMemoryGiB: number;
  driverReservedGiB: number;
  hostGpus: number;
  reserveGiB: number;
  modelFacts: Record<string, ModelFacts>;
}

export const requireFittingVramPlan: StackValidationPolicy = {
  name: "require-fitting-vram-plan",
  description:
    "The vLLM container's model, context length and GPU share fit the GPUs' memory, because vLLM otherwise fails at startup after the image pull and model download; this re-checks the plan even when the program's own check was bypassed.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      gpuMemoryGiB: {
        type: "number",
        default: 16,
        description: "Memory of each GPU (RTX 4070 Ti SUPER: 16 GB).",
      },
      driverReservedGiB: {
        type: "number",
        default: 0.4,
        description:
          "What the driver keeps of each GPU: vLLM's total is cudaMemGetInfo's, this much below gpuMemoryGiB.",
      },
      hostGpus: { type: "integer", default: 2, description: "GPUs a request of 'all' gets." },
      reserveGiB: {
        type: "number",
        default: 2.5,
        description: "Per-GPU reserve for activations, CUDA context and NCCL.",
      },
      modelFacts: {
        type: "object",
        default: {},
        description: "Facts for models outside the built-in catalog, by model id.",
      },
    },
  },
  validateStack: (args, report) => {
    const cfg = args.getConfig<Config>();
    for (const r of args.resources.filter(
      (x) => x.type === TYPES.container && serviceOf(x.props) === "vllm",
    )) {
      const cmd = r.props.command;
      // `vllm serve MODEL …`: positional first, or the older --model.
      const first =
        Array.isArray(cmd) && typeof cmd[0] === "string" && !cmd[0].startsWith("-") ? cmd[0] : undefined;
      const model = first ?? flagValue(cmd, "--model");
      if (!model) {
        report("the vLLM container names no model.", r.urn);
        continue;
      }
      const facts = cfg.modelFacts[model] ?? MODEL_CATALOG[model];
      if (!facts) {
        report(
          `cannot check ${model}: it is not in the built-in catalog; add its facts under modelFacts in the policy config.`,
          r.urn,
        );
        continue;
      }
      const gpus = requestedGpus(r.props.gpus, cfg.hostGpus);
      const tp = Number(flagValue(cmd, "--tensor-parallel-size") ?? 1);
      const quantization = flagValue(cmd, "--quantization");
      const plan = planVram({
        gpuMemoryGiB: cfg.gpuMemoryGiB - cfg.driverReservedGiB,
        tensorParallelSize: tp,
        gpuMemoryUtilization: Number(flagValue(cmd, "--gpu-memory-utilization") ?? 0.9),
        model: { ...facts, weightBits: servedWeightBits(quantization, facts) },
        kvCacheBytes: flagValue(cmd, "--kv-cache-dtype")?.startsWith("fp8") ? 1 : 2,
        maxModelLen: Number(flagValue(cmd, "--max-model-len") ?? facts.maxContext),
        reserveGiB: cfg.reserveGiB,
      });
      if (!plan.fits) report(describeVramFailure(model, `${gpus} GPU(s)`, plan), r.urn);
    }
  },
};
