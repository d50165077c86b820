/** The cadvisor service: its pin, ports, limits and placement, and what checks and backups need of it. */
import { imageOf, PINS } from "../../pins";
import { httpReady, ro } from "./container";
import type { ServiceDef } from "./types";

export const cadvisor: ServiceDef = {
  name: "cadvisor",
  container: "cadvisor",
  image: imageOf(PINS.cadvisor),
  arches: PINS.cadvisor.arches,
  ports: { http: { container: 8080, host: 9912 } },
  memoryMiB: 256,
  placement: "everyHost",
  uid: 0,
  metricsPort: 8080,
  job: "cadvisor",
  access: { http: { from: ["stack"], auth: "none" } },
  containerPlan: (input) => ({
    container: {
      command: ["--docker_only=true", "--housekeeping_interval=30s", "--store_container_labels=false"],
      privileged: true,
      devices: [{ hostPath: "/dev/kmsg", containerPath: "/dev/kmsg" }],
      volumes: [
        ro("/", "/rootfs"),
        ro("/var/run", "/var/run"),
        ro("/sys", "/sys"),
        ro(input.host.docker?.dataRoot ?? "/var/lib/docker", "/var/lib/docker"),
        ro("/dev/disk", "/dev/disk"),
      ],
      ports: input.published,
      healthcheck: httpReady(cadvisor, "/healthz"),
    },
  }),
};
