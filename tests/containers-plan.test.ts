/**
 * What planService (components/ladon/containers.ts) hands each LadonStack container: the files
 * it is told to read are the files the plan writes, at the paths its mounts give them; its data
 * lives where the config says; its ports are the catalog's, on loopback where the access model
 * binds them there. Pure: each test resolves the committed lab itself.
 */
import { planService, type ServicePlan } from "../components/ladon/containers";
import { LOKI_RUNTIME_CONFIG } from "../components/ladon/render/configs";
import { bindOf } from "../components/plan/access";
import { resolveLadon } from "../components/plan/ladon-resolve";
import { SERVICES, type ServiceName } from "../components/plan/services";
import { loadLab } from "../lib/cli";
import path from "node:path";
import { parse } from "yaml";
import { alertRules } from "../components/ladon/render/rules";

function citadel(dataDir?: string) {
  const loaded = loadLab("Pulumi.citadel.yaml");
  const lab = dataDir ? { ...loaded, ladon: { ...loaded.ladon!, dataDir } } : loaded;
  const ladon = resolveLadon(lab, lab.ladon!);
  const placed = ladon.placement.citadel ?? [];
  const plans = placed.map((s) => planService(s, ladon, "citadel", lab.hosts.citadel!));
  return { ladon, plans };
}

type Volume = { hostPath: string; containerPath: string };

/** Where a host file appears inside the container, through the plan's mounts. */
function inContainer(plan: ServicePlan, hostFile: string): string | undefined {
  const volumes = (plan.container.volumes ?? []) as Volume[];
  const v = volumes
    .filter((x) => hostFile === x.hostPath || hostFile.startsWith(`${x.hostPath}/`))
    .sort((a, b) => b.hostPath.length - a.hostPath.length)[0];
  return v && v.containerPath + hostFile.slice(v.hostPath.length);
}

/** Every file the plan puts in the container: its file groups' and its secret files. */
function written(plan: ServicePlan): string[] {
  const files = [
    ...plan.fileGroups.flatMap((g) => Object.keys(g.files).map((f) => `${g.dir}/${f}`)),
    ...plan.secretFiles.map((s) => s.path),
  ];
  return files.map((f) => inContainer(plan, f)).filter((f): f is string => f !== undefined);
}

describe("planService", () => {
  it("writes every config file a container's command line or healthcheck names, where its mounts put it", () => {
    const { plans } = citadel();
    let named = 0;
    for (const plan of plans) {
      const health = (plan.container.healthcheck as { tests?: string[] } | undefined)?.tests ?? [];
      const args = [...((plan.container.command ?? []) as string[]), ...health];
      for (const arg of args)
        for (const m of arg.matchAll(/(?:^|=)(\/etc\/[^\s=,]+\.(?:ya?ml|alloy))/g)) {
          named++;
          expect([plan.service, m[1], written(plan).includes(m[1] as string)]).toEqual([
            plan.service,
            m[1],
            true,
          ]);
        }
    }
    expect(named).toBeGreaterThan(3);
  });

  it("mounts no other service's files into a container, their secrets included", () => {
    const { plans } = citadel();
    const hostFiles = (p: ServicePlan) => [
      ...p.fileGroups.flatMap((g) => Object.keys(g.files).map((f) => `${g.dir}/${f}`)),
      ...p.secretFiles.map((x) => x.path),
    ];
    expect(plans.some((p) => p.secretFiles.length > 0)).toBe(true);
    for (const a of plans)
      for (const b of plans.filter((x) => x !== a))
        for (const file of hostFiles(b))
          expect([a.service, file, inContainer(a, file)]).toEqual([a.service, file, undefined]);
  });

  it("writes Prometheus's alert rules where its rule_files glob reads them, every alert of the lab in them", () => {
    const { ladon, plans } = citadel();
    const prometheus = plans.find((p) => p.service === "prometheus")!;
    const config = prometheus.fileGroups
      .flatMap((g) => Object.entries(g.files))
      .find(([f]) => f === "prometheus.yml")!;
    const globs = (parse(config[1]) as { rule_files: string[] }).rule_files;
    expect(globs.length).toBeGreaterThan(0);
    // The rendered files the container sees under each glob (one directory, `*.yml`).
    const read = prometheus.fileGroups.flatMap((g) =>
      Object.entries(g.files).filter(([f]) =>
        globs.some((glob) => {
          const seen = inContainer(prometheus, `${g.dir}/${f}`);
          return (
            seen !== undefined && path.posix.dirname(seen) === path.posix.dirname(glob) && f.endsWith(".yml")
          );
        }),
      ),
    );
    const alerts = read.flatMap(([, text]) =>
      (parse(text) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) =>
        g.rules.map((r) => r.alert),
      ),
    );
    expect(alerts.sort()).toEqual(
      alertRules(ladon.config.thresholds)
        .flatMap((g) => g.rules.map((r) => r.alert))
        .sort(),
    );
  });

  it("writes Loki's runtime overrides where its config tells it to read them", () => {
    const { plans } = citadel();
    const loki = plans.find((p) => p.service === "loki")!;
    expect(written(loki)).toContain(LOKI_RUNTIME_CONFIG);
  });

  it("keeps the stack's data under the configured data directory, one directory each, and exporters' outside it", () => {
    for (const dataDir of ["/srv/data/ladon", "/srv/elsewhere/ladon"]) {
      const { plans } = citadel(dataDir);
      for (const p of plans) {
        const underData = p.dataDir.startsWith(`${dataDir}/`);
        expect([p.service, underData]).toEqual([p.service, SERVICES[p.service].placement === "stack"]);
      }
      const dirs = plans.map((p) => p.dataDir);
      expect(new Set(dirs).size).toBe(dirs.length);
      // Each stack service's data directory is mounted into its container.
      for (const p of plans.filter(
        (x) => SERVICES[x.service].placement === "stack" && SERVICES[x.service].backup,
      ))
        expect([p.service, inContainer(p, p.dataDir)]).not.toEqual([p.service, undefined]);
    }
  });

  it("publishes the catalog's ports, on loopback exactly where the access model binds them there", () => {
    const { ladon, plans } = citadel();
    let loopback = 0;
    let open = 0;
    for (const p of plans) {
      const catalog = Object.entries(SERVICES[p.service].ports);
      if (p.container.networkMode === "host") {
        expect([p.service, p.container.ports]).toEqual([p.service, undefined]);
        continue;
      }
      const ports = (p.container.ports ?? []) as { internal: number; external: number; ip?: string }[];
      expect([p.service, ports.length]).toEqual([p.service, catalog.length]);
      for (const [name, port] of catalog) {
        const bind = bindOf(ladon, "citadel", p.service as ServiceName, name);
        const got = ports.find((x) => x.external === port.host);
        expect([p.service, name, got]).toEqual([
          p.service,
          name,
          {
            internal: port.container,
            external: port.host,
            ...(bind === "127.0.0.1" ? { ip: "127.0.0.1" } : {}),
          },
        ]);
        if (bind === "127.0.0.1") loopback++;
        else open++;
      }
      expect([p.service, p.onLabNetwork]).toEqual([p.service, true]);
    }
    expect(loopback).toBeGreaterThan(0);
    expect(open).toBeGreaterThan(0);
    for (const p of plans.filter((x) => x.container.networkMode === "host"))
      expect(p.onLabNetwork).toBe(false);
  });

  describe("refuses a service module that disagrees with what the stack rendered for it", () => {
    afterEach(() => jest.restoreAllMocks());
    const lab = loadLab("Pulumi.citadel.yaml");
    const ladon = resolveLadon(lab, lab.ladon!);

    it("when the module drops a rendered file group, which would leave the file unwritten", () => {
      const module = SERVICES.prometheus;
      const real = module.containerPlan;
      jest.spyOn(module, "containerPlan").mockImplementation((input) => {
        const plan = real(input);
        return { ...plan, fileGroups: (plan.fileGroups ?? []).filter((g) => g.id !== "rules") };
      });
      expect(() => planService("prometheus", ladon, "citadel", lab.hosts.citadel!)).toThrow(
        "prometheus: its module has no file group for the rendered rules",
      );
    });

    it("when the module's hostNetwork and its container's network mode differ", () => {
      const module = SERVICES.prometheus;
      const real = module.containerPlan;
      jest.spyOn(module, "containerPlan").mockImplementation((input) => ({
        ...real(input),
        container: { ...real(input).container, networkMode: "host" },
      }));
      expect(() => planService("prometheus", ladon, "citadel", lab.hosts.citadel!)).toThrow(
        "prometheus: hostNetwork is false in its module, but its container's networkMode is host; make them agree",
      );
      const hostNet = Object.values(SERVICES).find((s) => s.hostNetwork)!;
      const name = Object.keys(SERVICES).find((k) => SERVICES[k as ServiceName] === hostNet) as ServiceName;
      const realHost = hostNet.containerPlan;
      jest.spyOn(hostNet, "containerPlan").mockImplementation((input) => {
        const { networkMode: _dropped, ...container } = realHost(input).container;
        return { ...realHost(input), container };
      });
      const host = Object.entries(ladon.placement).find(([, s]) => s.includes(name))![0];
      expect(() => planService(name, ladon, host, lab.hosts[host]!)).toThrow(
        `${name}: hostNetwork is true in its module, but its container's networkMode is unset; make them agree`,
      );
    });
  });
});
