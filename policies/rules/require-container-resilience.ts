import type { ResourceValidationPolicy } from "@pulumi/policy";
import { pinOf } from "../../components/pins";
import { serviceOf, TYPES } from "../lib/resources";

/**
 * An image with no shell, no HTTP client and no health command of its own cannot run a Docker
 * healthcheck (components/pins.ts lists what each image has, read from its Dockerfile).
 */
function cannotRunHealthcheck(service: string): boolean {
  const pin = pinOf(service);
  return pin !== undefined && pin.image.healthTools.length === 0 && !pin.image.healthCommand;
}

const RESTART = ["unless-stopped", "always", "on-failure"];

export const requireContainerResilience: ResourceValidationPolicy = {
  name: "require-container-resilience",
  description:
    "Every container restarts on its own, reports its health, has a memory limit and rotates its logs, because one unbounded or silently dead container can take the whole GPU server down with it.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== TYPES.container) return;
    const p = args.props;
    const name = serviceOf(p);
    if (!RESTART.includes(p.restart))
      report(`container ${name} has restart "${p.restart ?? "no"}"; use unless-stopped.`);
    const tests: unknown[] = Array.isArray(p.healthcheck?.tests) ? p.healthcheck.tests : [];
    if ((tests.length === 0 || tests[0] === "NONE") && !cannotRunHealthcheck(name))
      report(`container ${name} has no healthcheck; add one that proves it is ready, not just running.`);
    if (!(Number(p.memory) > 0))
      report(`container ${name} has no memory limit; set one so it cannot exhaust the host's RAM.`);
    const driver = p.logDriver ?? "json-file";
    const rotated = driver === "local" || (driver === "json-file" && p.logOpts?.["max-size"] !== undefined);
    if (!rotated)
      report(
        `container ${name} does not rotate its logs (driver ${driver}); set log-opts max-size and max-file.`,
      );
  },
};
