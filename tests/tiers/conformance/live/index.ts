/**
 * The LadonStack, live: the real Prometheus, Alertmanager, Loki, Alloy, node_exporter and Phoenix
 * at the pinned versions, each started from its container's exact command, environment and
 * volumes in its own network and mount namespace, then checked through their own APIs.
 */
import path from "node:path";
import type { ChildProcess } from "node:child_process";
import type { Ctx } from "../static";
import { versionOf } from "../static";
import { serviceRun } from "../services";
import { healthcheckChecks } from "../healthchecks";
import { publishPorts, READY, startDockerApi, startWebhook, writeClientNetrc } from "./harness";
import { readiness } from "./readiness";
import { secretSteps } from "./secrets";
import { prometheusChecks } from "./prometheus";
import { alertChecks } from "./alerts";
import { accessChecks } from "./access";
import { lokiChecks } from "./loki";
import { backupChecks } from "./backups";
import { nodeExporterChecks } from "./node-exporter";
import { phoenixChecks } from "./phoenix";

export { containerLines, durationSeconds, publishPorts, WEBHOOK } from "./harness";

export async function liveChecks(ctx: Ctx): Promise<void> {
  const { sandbox, lab } = ctx;

  // Alertmanager's webhook receiver (the conformance overlay routes alerts to it).
  const received = path.join(ctx.dir, "webhook.jsonl");
  const receiver = startWebhook(ctx, received);

  // The Docker Engine API Alloy's container-log components talk to, with the lab's containers.
  const dockerApi = await startDockerApi(ctx);

  // The program's own secret steps write Prometheus's and Alertmanager's basic-auth files (the
  // bcrypt web configs, their passwords, the host's netrc files) into the simulated host first.
  await secretSteps(ctx);
  writeClientNetrc(ctx);

  const children: ChildProcess[] = [];
  for (const [name, { pin }] of Object.entries(READY)) {
    const tool = ctx.tools[pin];
    if (!tool) {
      ctx.run.missing(pin, versionOf(pin), `${name} starts`, `not installed: run npm run upstream -- ${pin}`);
      continue;
    }
    const { spec } = serviceRun(ctx.dir, lab.container(name), pin, tool);
    children.push(sandbox.start(spec));
  }
  try {
    await readiness(ctx);
    await healthcheckChecks(
      ctx,
      Object.fromEntries(Object.entries(READY).map(([name, { pin }]) => [name, pin])),
    );
    publishPorts(ctx);
    await prometheusChecks(ctx);
    await alertChecks(ctx, received);
    await accessChecks(ctx);
    await lokiChecks(ctx);
    await backupChecks(ctx);
    await nodeExporterChecks(ctx);
    await phoenixChecks(ctx);
  } finally {
    receiver.kill("SIGKILL");
    dockerApi.kill("SIGKILL");
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  }
}
