import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { DockerConfig } from "../config";
import { containerTimeouts, recreateLabel, sortKeys } from "../shared/render";
import { hostScript, publishFile, type HostTarget } from "../remote";
import { LABELS, SERVICES } from "../plan/services";
import type { ServicePlan } from "./containers";

export interface ServiceArgs {
  /** What to run: the container spec and the files it reads (see `planService`). */
  plan: ServicePlan;
  /** The host it runs on. */
  host: HostTarget;
  provider: docker.Provider;
  /** The lab network, for services not on the host network. */
  network: pulumi.Input<string>;
  /** The host's Docker log rotation. */
  log: DockerConfig["log"];
  /** Memory limit in MiB. */
  memoryMiB: number;
  /** Secret environment variables, `NAME=value`. @default [] */
  secretEnvs?: pulumi.Input<string>[];
  /** Secret files' values by `secretFiles[].id`. @default {} */
  secretValues?: Record<string, pulumi.Input<string>>;
  /** Docker verified on the host; the image pull waits for it. */
  dockerReady: pulumi.Input<pulumi.Resource>;
  /** What else the container needs, e.g. the disk under its data. @default [] */
  hostReady?: pulumi.Input<pulumi.Resource>[];
}

/**
 * One LadonStack service on one host: its pinned image, its directories and config files (each
 * group written by its own step, applied by reload rather than by replacing the container), its
 * secret files, and the container.
 */
export class Service extends pulumi.ComponentResource {
  readonly container: docker.Container;

  constructor(name: string, args: ServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("citadel:ladon:Service", name, {}, opts);
    const { plan, host } = args;
    const spec = SERVICES[plan.service];
    const owner = String(spec.uid);

    const image = new docker.RemoteImage(
      `${name}-image`,
      { name: spec.image, keepLocally: true },
      { parent: this, provider: args.provider, dependsOn: [args.dockerReady] },
    );

    const groups =
      plan.fileGroups.length > 0 ? plan.fileGroups : [{ id: "dirs", dir: "", files: {}, reload: "none" }];
    const steps = groups.map((g) => {
      for (const [file, content] of Object.entries(g.files))
        publishFile(`${host.name}${g.dir}/${file}`, content);
      return hostScript(
        `${name}-${g.id}`,
        {
          host,
          script: "ladon/scripts/service-files.sh",
          params: {
            CONTAINER: spec.container,
            OWNER_UID: owner,
            DATA_DIR: plan.dataDir,
            CONFIG_DIR: g.dir,
            FILES: JSON.stringify(sortKeys(g.files)),
            RELOAD: g.reload,
            ...(g.netrc ? { NETRC: g.netrc } : {}),
          },
        },
        { parent: this, dependsOn: [args.dockerReady, ...(args.hostReady ?? [])] },
      );
    });
    const secretSteps = plan.secretFiles.map((f) => {
      const value = (args.secretValues ?? {})[f.id];
      if (value === undefined) throw new Error(`Service ${name}: no value for its secret file ${f.id}`);
      return hostScript(
        `${name}-${f.id}`,
        {
          host,
          script: "ladon/scripts/secret-file.sh",
          params: {
            SECRET_PATH: f.path,
            OWNER_UID: f.owner ?? owner,
            CONTAINER: spec.container,
            ON_CHANGE: f.onChange,
            ...(f.netrc ? { NETRC: f.netrc } : {}),
          },
          secrets: { SECRET: value },
        },
        { parent: this, dependsOn: [args.dockerReady] },
      );
    });

    const c = plan.container;
    const secretEnvs = args.secretEnvs ?? [];
    // An image with no tool to run a healthcheck (components/pins.ts) gets none, and nothing waits
    // for one: the provider's wait fails on a container without a healthcheck.
    const waitSeconds = c.healthcheck ? 300 : 0;
    this.container = new docker.Container(
      `${name}-container`,
      {
        ...c,
        name: spec.container,
        image: image.imageId,
        envs:
          secretEnvs.length > 0
            ? pulumi.secret(
                pulumi
                  .all([...((c.envs as string[] | undefined) ?? []), ...secretEnvs])
                  .apply((e) => [...e].sort()),
              )
            : c.envs,
        restart: "unless-stopped",
        memory: args.memoryMiB,
        logDriver: args.log.driver,
        logOpts: sortKeys({ "max-file": String(args.log.maxFile), "max-size": args.log.maxSize }),
        labels: [
          { label: LABELS.service, value: plan.service },
          { label: LABELS.metricsPort, value: String(spec.metricsPort) },
          recreateLabel(c as unknown as Record<string, unknown>),
        ],
        ...(plan.onLabNetwork
          ? { networksAdvanced: [{ name: args.network, aliases: [spec.container] }] }
          : {}),
        wait: waitSeconds > 0,
        ...(waitSeconds > 0 ? { waitTimeout: waitSeconds } : {}),
      },
      {
        parent: this,
        provider: args.provider,
        dependsOn: [...steps, ...secretSteps],
        customTimeouts: containerTimeouts(waitSeconds),
        // Fixed container names and host ports: the old container must go before the new one starts.
        deleteBeforeReplace: true,
      },
    );
    this.registerOutputs({ container: spec.container });
  }
}
