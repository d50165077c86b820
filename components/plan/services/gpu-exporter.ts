/** The gpu-exporter service: its pin, ports, limits and placement, and what checks and backups need of it. */
import { imageOf, PINS } from "../../pins";
import type { ServiceDef } from "./types";

export const gpuExporter: ServiceDef = {
  name: "gpuExporter",
  container: "gpu-exporter",
  image: imageOf(PINS.gpuExporter),
  arches: PINS.gpuExporter.arches,
  ports: { http: { container: 9835, host: 9911 } },
  memoryMiB: 128,
  placement: "gpuHosts",
  uid: 0,
  metricsPort: 9835,
  job: "gpu",
  access: { http: { from: ["stack"], auth: "none" } },
  containerPlan: (input) => ({
    container: {
      gpus: "all",
      // Only the driver's utility libraries (nvidia-smi): docs/INSTALL.md@v1.14.0.
      envs: ["NVIDIA_DRIVER_CAPABILITIES=utility"],
      ports: input.published,
      // No healthcheck: since 1.14.0 the image is distroless with no shell and no health
      // command (Dockerfile@v1.14.0). Prometheus's `up{job="gpu"}` and its alert watch it.
    },
  }),
};
