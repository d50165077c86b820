/**
 * The drift probe's health checks ask each service where the lab publishes it: the probe the drift
 * timer installs (decoded from the rendered citadel-drift.sh) is run on a simulated host, and each
 * URL it asks is compared with the host port the service's Docker container publishes, read from
 * the container resource the program registers, not from the catalog the probe is rendered from.
 * The paths answer 200 on the real services in the conformance tier (tests/tiers/conformance/live/access.ts, the
 * drift probe check).
 */
import { PROBE_HEALTH } from "../components/ops/probe";
import { CATALOG, SERVICES } from "../components/plan/services";
import { wrapScript } from "../components/remote";
import { SimHost } from "./support/hostsim";
import { ofType, synthLab } from "./support/synth";

describe("the drift probe's health checks", () => {
  it("ask each service on the host port its container publishes, and Prometheus on its own", async () => {
    const lab = await synthLab();
    const drift = lab.files.get("citadel/usr/local/lib/citadel/citadel-drift.sh");
    if (drift === undefined) throw new Error("the program rendered no drift script for citadel");
    const b64 = /^export PROBE_B64='([^']*)'$/m.exec(drift)?.[1];
    if (!b64) throw new Error("the drift script carries no probe");
    const probe = Buffer.from(b64, "base64").toString("utf8");
    const run = new SimHost().exec(wrapScript(probe, false));
    expect(run.status).toBe(0);
    const asked = run.calls
      .filter((c) => c.startsWith("curl "))
      .map((c) => /http:\/\/127\.0\.0\.1:(\d+)(\/[^ ?]*)/.exec(c))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => `${m[1]}${m[2]}`);

    /** The host port Docker publishes for a container's port, from the registered container. */
    const published = (name: string, internal: number) => {
      const c = ofType(lab, "docker:index/container:Container").find(
        (r) => r.rawInputs.name === name && r.provider?.endsWith("citadel-docker-provider"),
      );
      const ports = (c?.rawInputs.ports ?? []) as { internal: number; external: number }[];
      const p = ports.find((x) => x.internal === internal);
      if (!p) throw new Error(`${name} publishes nothing for its port ${internal}`);
      return p.external;
    };
    const want = [
      `${published("prometheus", SERVICES.prometheus.ports.http?.container as number)}/api/v1/targets`,
      ...PROBE_HEALTH.map((h) => {
        const s = SERVICES[h.service];
        return `${published(s.container, s.ports.http?.container as number)}${h.path}`;
      }),
    ];
    expect(asked.sort()).toEqual(want.sort());
    // Every service the evaluators expect healthy is asked, once.
    expect(PROBE_HEALTH.map((h) => h.service)).toEqual(["grafana", "loki", "alertmanager", "phoenix"]);
    // A service whose health path needs a login (its module's health.netrc) is asked with the host's
    // netrc file for it, and one that needs none without any.
    for (const s of CATALOG.filter((c) => c.health && PROBE_HEALTH.some((h) => h.service === c.name))) {
      const call = run.calls.find(
        (c) => c.startsWith("curl ") && c.includes(`${s.health?.path}`) && !c.includes("/api/v1/targets"),
      );
      const netrc = s.health?.netrc;
      expect([
        s.name,
        netrc ? call?.includes(`--netrc-file ${netrc}`) : !call?.includes("--netrc-file"),
      ]).toEqual([s.name, true]);
    }
    expect(CATALOG.some((c) => c.health?.netrc)).toBe(true);
  });
});
