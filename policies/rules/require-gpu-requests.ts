import type { ResourceValidationPolicy } from "@pulumi/policy";
import { flagValue, serviceOf, TYPES } from "../lib/resources";

/** How many GPUs a `gpus` value requests: "all" counts as the host's GPUs. */
export function requestedGpus(gpus: unknown, hostGpus: number): number {
  if (typeof gpus !== "string" || gpus === "") return 0;
  if (gpus === "all") return hostGpus;
  const devices = /device=([^"]+)/.exec(gpus)?.[1];
  if (devices) return devices.split(",").filter(Boolean).length;
  const count = Number(gpus);
  return Number.isFinite(count) ? count : 0;
}

export const requireGpuRequests: ResourceValidationPolicy = {
  name: "require-gpu-requests",
  description:
    "A GPU workload requests its GPUs and its tensor-parallel size is at most the GPUs it gets, because otherwise vLLM fails at startup after a long image pull and model download.",
  enforcementLevel: "mandatory",
  configSchema: {
    properties: {
      hostGpus: {
        type: "integer",
        minimum: 1,
        default: 2,
        description: "GPUs a request of 'all' gets on the lab's GPU host.",
      },
    },
  },
  validateResource: (args, report) => {
    if (args.type !== TYPES.container) return;
    const tp = flagValue(args.props.command, "--tensor-parallel-size");
    const isGpuWorkload = tp !== undefined || serviceOf(args.props) === "vllm";
    if (!isGpuWorkload) return;
    const requested = requestedGpus(args.props.gpus, Number(args.getConfig<{ hostGpus: number }>().hostGpus));
    if (requested === 0) {
      report(
        `container ${serviceOf(args.props)} runs a GPU workload but requests no GPUs; set gpus to "all" or a device list.`,
      );
      return;
    }
    if (tp !== undefined && Number(tp) > requested) {
      report(
        `container ${serviceOf(args.props)} has --tensor-parallel-size ${tp} but requests ${requested} GPUs; lower it to ${requested} or request more.`,
      );
    }
  },
};
