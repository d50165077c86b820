/**
 * Every registered container healthcheck asks its own service on the port the service listens on:
 * read from the container resource the program registers (the port Docker forwards to, or, on the
 * host network, the listen address in its command), and equal to the catalog's container port.
 * The conformance tier runs each of these commands against the real service
 * (tests/tiers/conformance/healthchecks.ts), which is where a wrong path or flag fails.
 */
import { SERVICES, SERVICE_NAMES } from "../components/plan/services";
import { ofType, synthLab } from "./support/synth";

describe("the registered healthchecks", () => {
  it("ask the port each service listens on, the catalog's container port", async () => {
    const lab = await synthLab();
    const problems: string[] = [];
    const noUrl: string[] = [];
    let checked = 0;
    for (const c of ofType(lab, "docker:index/container:Container")) {
      const i = c.rawInputs as {
        name: string;
        networkMode?: string;
        command?: string[];
        ports?: { internal: number }[];
        healthcheck?: { tests: string[] };
      };
      if (!i.healthcheck) continue;
      const text = i.healthcheck.tests.join(" ");
      const asked = [...text.matchAll(/127\.0\.0\.1[:/](\d+)/g)].map((m) => Number(m[1]));
      if (asked.length === 0) {
        noUrl.push(i.name);
        continue;
      }
      const command = (i.command ?? []).join(" ");
      const listening = new Set([
        ...(i.ports ?? []).map((p) => p.internal),
        // Host network: the port in the command's listen address.
        ...(i.networkMode === "host"
          ? [...command.matchAll(/(?:listen-addr(?:ess)?=\S*:|--port )(\d+)/g)].map((m) => Number(m[1]))
          : []),
      ]);
      const service = SERVICE_NAMES.find((s) => SERVICES[s].container === i.name);
      for (const port of asked) {
        checked++;
        if (!listening.has(port))
          problems.push(`${i.name} asks ${port}, listens on ${[...listening].join(", ")}`);
        if (service && port !== SERVICES[service].ports.http?.container)
          problems.push(
            `${i.name} asks ${port}, the catalog's port is ${SERVICES[service].ports.http?.container}`,
          );
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(8);
    // Loki's own health command reads the port from its config (cmd/loki/health.go@v3.7.8).
    expect(noUrl).toEqual(["loki"]);
  });
});
