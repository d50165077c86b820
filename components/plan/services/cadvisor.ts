/** The cadvisor service: its pin, ports, limits and placement, and what checks and backups need of it. */
import { imageOf, PINS } from "../../pins";
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
};
