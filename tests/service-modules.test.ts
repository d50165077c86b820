/**
 * Each service module owns its container plan (components/plan/services/); planService hands it
 * the rendered files and published ports. A module and the component layer that disagree (a
 * rendered file with no group to write it, a host-network flag its container does not follow, a
 * group with no rendered files) stop the plan with the service named, instead of a container that
 * silently lacks a file or a network.
 */
import { planService } from "../components/ladon/containers";
import { resolveLadon } from "../components/plan/ladon-resolve";
import { CATALOG, SERVICES, type ServiceDef } from "../components/plan/services";
import { filesOf, type ContainerInput } from "../components/plan/services/container";
import { loadLab } from "../lib/cli";

const lab = loadLab("Pulumi.citadel.yaml");
const ladon = resolveLadon(lab, lab.ladon as NonNullable<typeof lab.ladon>);
const host = lab.hosts.citadel as NonNullable<(typeof lab.hosts)["citadel"]>;

/** Runs `body` with one module's fields replaced, then puts them back. */
function withModule(name: ServiceDef["name"], patch: Partial<ServiceDef>, body: () => void): void {
  const def = SERVICES[name] as ServiceDef & Record<string, unknown>;
  const saved = Object.fromEntries(Object.keys(patch).map((k) => [k, def[k]]));
  Object.assign(def, patch);
  try {
    body();
  } finally {
    Object.assign(def, saved);
  }
}

describe("the service modules' container plans", () => {
  it("plan every service placed on citadel, each file group with its rendered files", () => {
    const placed = ladon.placement.citadel ?? [];
    expect(placed.length).toBe(CATALOG.length);
    for (const s of placed) {
      const plan = planService(s, ladon, "citadel", host);
      expect(plan.service).toBe(s);
      for (const g of plan.fileGroups) expect(Object.keys(g.files).length).toBeGreaterThan(0);
    }
  });

  it("refuse a module that leaves a rendered config file without a group to write it", () => {
    const real = SERVICES.loki.containerPlan;
    withModule(
      "loki",
      {
        containerPlan: (input) => {
          const p = real(input);
          return { ...p, fileGroups: (p.fileGroups ?? []).filter((g) => g.id !== "runtime") };
        },
      },
      () =>
        expect(() => planService("loki", ladon, "citadel", host)).toThrow(
          "loki: its module has no file group for the rendered runtime",
        ),
    );
  });

  it("refuse a host-network flag the container does not follow", () => {
    withModule("nodeExporter", { hostNetwork: false }, () =>
      expect(() => planService("nodeExporter", ladon, "citadel", host)).toThrow(
        "nodeExporter: hostNetwork is false in its module, but its container's networkMode is host; make them agree",
      ),
    );
    withModule("cadvisor", { hostNetwork: true }, () =>
      expect(() => planService("cadvisor", ladon, "citadel", host)).toThrow(
        "cadvisor: hostNetwork is true in its module, but its container's networkMode is unset; make them agree",
      ),
    );
  });

  it("refuse a file group the component layer renders nothing for", () => {
    const input = { files: { config: { "a.yml": "" } } } as unknown as ContainerInput;
    expect(filesOf(input, "config")).toEqual({ "a.yml": "" });
    expect(() => filesOf(input, "rules")).toThrow('no rendered files for file group "rules"');
  });
});
