/** The one catalog of pins: an image and the upstream release that checks it move together. */
import { checkerRelease, imageOf, PINS, releaseOf, type Pin, type PinName } from "../components/pins";
import { SERVICES, SERVICE_NAMES } from "../components/ladon";
import { VllmSchema } from "../components/config";

const SERVERS = { chat: { model: "Qwen/Qwen3-8B", maxModelLen: 8192, port: 8000 } };

describe("the catalog of pins", () => {
  it.each(Object.keys(PINS) as PinName[])("%s: the image's release is the checker's release", (name) => {
    const pin = PINS[name];
    const checked = checkerRelease(pin);
    if (pin.checker.kind === "none") {
      expect(checked).toBeUndefined();
      expect(pin.checker.why.length).toBeGreaterThan(20);
    } else {
      expect(releaseOf(pin.tag)).toBe(checked);
    }
  });

  it("catches an image bumped without its checker", () => {
    const bumped: Pin = { ...PINS.prometheus, tag: "v3.16.0" };
    expect(releaseOf(bumped.tag)).not.toBe(checkerRelease(bumped));
  });

  it("maps Prometheus's Go module versions to its releases, and leaves the others alone", () => {
    expect(releaseOf("v0.315.0", "github.com/prometheus/prometheus")).toBe("3.15.0");
    expect(releaseOf("v0.34.2", "github.com/prometheus/alertmanager")).toBe("0.34.2");
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
});
