/** The alloy service: its pin, ports, limits and placement, and what checks and backups need of it. */
import { imageOf, PINS } from "../../pins";
import { bashHttp, filesOf, health, local, port, ro, rw } from "./container";
import type { ServiceDef } from "./types";

export const alloy: ServiceDef = {
  name: "alloy",
  container: "alloy",
  image: imageOf(PINS.alloy),
  arches: PINS.alloy.arches,
  ports: { http: { container: 12345, host: 9904 } },
  memoryMiB: 512,
  placement: "everyHost",
  uid: 0,
  metricsPort: 12345,
  ready: { path: "/-/ready", port: "http" },
  job: "alloy",
  access: {
    // UI and metrics on one port: the stack's Prometheus scrapes it on other hosts.
    http: { from: ["stack"], auth: "none" },
  },
  containerPlan: (input) => ({
    fileGroups: [
      {
        id: "config",
        dir: input.paths.config,
        files: filesOf(input, "config"),
        reload: local(alloy, "/-/reload"),
      },
    ],
    container: {
      command: [
        "run",
        `--server.http.listen-addr=0.0.0.0:${port(alloy).container}`,
        "--storage.path=/var/lib/alloy/data",
        "/etc/alloy/config.alloy",
      ],
      user: "0",
      volumes: [
        ro(input.paths.config, "/etc/alloy"),
        rw(input.paths.data, "/var/lib/alloy/data"),
        ro("/var/log/journal", "/var/log/journal"),
        ro("/run/log/journal", "/run/log/journal"),
        ro("/etc/machine-id", "/etc/machine-id"),
        ro("/var/run/docker.sock", "/var/run/docker.sock"),
      ],
      ports: input.published,
      healthcheck: health(bashHttp(port(alloy).container, "/-/ready")),
    },
  }),
};
