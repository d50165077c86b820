/** The one catalog of pins: an image and the upstream release that checks it move together. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { HOST_PINS, imageOf, PINS, pinProblem, releaseOf, type Pin, type PinName } from "../components/pins";
import { SERVICES, SERVICE_NAMES } from "../components/plan";
import { VllmSchema } from "../components/config";

const SERVERS = { chat: { model: "Qwen/Qwen3-8B", maxModelLen: 8192, port: 8000 } };

describe("the catalog of pins", () => {
  it.each(Object.keys(PINS) as PinName[])("%s: the image's release is the checker's release", (name) => {
    expect(pinProblem(PINS[name])).toBeUndefined();
  });

  it("catches an image bumped without its checker, and a checker bumped without its image", () => {
    const pin = PINS.nodeExporter;
    expect(pinProblem({ ...pin, tag: "v9.9.9" })).toMatch(/^image 9\.9\.9, checker /);
    expect(pinProblem({ ...pin, checker: { ...pin.checker, version: "v9.9.9" } as Pin["checker"] })).toMatch(
      /, checker 9\.9\.9$/,
    );
    expect(pinProblem({ ...pin, checker: { kind: "none", why: "" } })).toBe("no checker, and no reason why");
  });

  it("maps Prometheus's Go module versions to its releases, and leaves the others alone", () => {
    expect(releaseOf("v0.316.0", "github.com/prometheus/prometheus")).toBe("3.16.0");
    expect(releaseOf("v0.35.0", "github.com/prometheus/alertmanager")).toBe("0.35.0");
    expect(releaseOf("version-20.26.1")).toBe("20.26.1");
  });

  it("is the only place images are pinned: every service and the vLLM default come from it", () => {
    for (const s of SERVICE_NAMES) expect(SERVICES[s].image).toBe(imageOf(PINS[s]));
    expect(VllmSchema.parse({ servers: SERVERS }).image).toBe(imageOf(PINS.vllm));
  });

  it("lets the vLLM image gain a digest, never another tag", () => {
    const digest = `${imageOf(PINS.vllm)}@sha256:${"a".repeat(64)}`;
    expect(VllmSchema.parse({ servers: SERVERS, image: digest }).image).toBe(digest);
    const other = VllmSchema.safeParse({
      servers: SERVERS,
      image: "vllm/vllm-openai:v0.11.0",
    });
    expect(other.success).toBe(false);
    expect(JSON.stringify(other.error?.issues)).toContain("bumped in components/pins.ts");
  });

  it("says where each image's facts were read", () => {
    for (const pin of Object.values(PINS)) {
      expect(pin.image.source).toMatch(/Dockerfile/);
      expect(pin.image.entrypoint.length).toBeGreaterThan(0);
    }
  });

  it.each(["Pulumi.citadel.yaml", "examples/Pulumi.monitoring-pi.yaml"])(
    "%s pins Docker Engine and the NVIDIA toolkit at the catalog's versions",
    (file) => {
      const doc = parse(readFileSync(path.join(__dirname, "..", file), "utf8")) as {
        config: Record<string, unknown>;
      };
      const hosts = doc.config["citadel:hosts"] as Record<
        string,
        { docker?: { version: string }; nvidia?: { toolkitVersion: string } }
      >;
      const dockers = Object.values(hosts).flatMap((h) => (h.docker ? [h.docker.version] : []));
      const toolkits = Object.values(hosts).flatMap((h) => (h.nvidia ? [h.nvidia.toolkitVersion] : []));
      expect(dockers.length).toBeGreaterThan(0);
      expect(new Set(dockers)).toEqual(new Set([HOST_PINS.dockerEngine]));
      for (const v of toolkits) expect(v).toBe(HOST_PINS.nvidiaToolkit);
    },
  );
});
