/** The node-exporter service: its pin, ports, limits and placement, and what checks and backups need of it. */
import { imageOf, PINS } from "../../pins";
import { httpReady, port, ro } from "./container";
import type { ServiceDef } from "./types";

export const nodeExporter: ServiceDef = {
  name: "nodeExporter",
  container: "node-exporter",
  image: imageOf(PINS.nodeExporter),
  arches: PINS.nodeExporter.arches,
  // Host network: it listens on the host port directly.
  ports: { http: { container: 9910, host: 9910 } },
  hostNetwork: true,
  memoryMiB: 128,
  placement: "everyHost",
  uid: 65534,
  metricsPort: 9910,
  ready: { path: "/metrics", port: "http" },
  job: "node",
  access: { http: { from: ["stack"], auth: "none" } },
  containerPlan: () => ({
    container: {
      command: [
        "--path.rootfs=/host",
        `--web.listen-address=:${port(nodeExporter).container}`,
        "--collector.systemd",
        "--collector.textfile.directory=/host/var/lib/node_exporter/textfile",
        "--collector.filesystem.mount-points-exclude=^/(dev|proc|run|sys|var/lib/docker/.+|srv/data/docker/.+)($|/)",
      ],
      networkMode: "host",
      pidMode: "host",
      mounts: [
        {
          type: "bind",
          source: "/",
          target: "/host",
          readOnly: true,
          bindOptions: { propagation: "rslave" },
        },
      ],
      volumes: [ro("/run/dbus/system_bus_socket", "/var/run/dbus/system_bus_socket")],
      healthcheck: httpReady(nodeExporter, "/metrics"),
    },
  }),
};
