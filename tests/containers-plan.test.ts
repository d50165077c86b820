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
});
