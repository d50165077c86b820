import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { DockerConfig } from "../config";
import { containerTimeouts, recreateLabel, sortKeys } from "../shared/render";
import {
  CONTAINER_PORT,
  HF_CACHE,
  VLLM_CACHE,
  renderHealthcheck,
  renderVllmArgs,
  renderVllmEnv,
  type ResolvedServer,
  type ResolvedVllm,
} from "../plan/vllm";
import { describeVramFailure, type VramPlan } from "../plan/vram";

export interface VllmArgs {
  /** The resolved `citadel:vllm` section (see `resolveVllm`): every server, VRAM plans included. */
  vllm: ResolvedVllm;
  /** Docker on the GPU host. */
  provider: docker.Provider;
  /** The lab's user-defined network, so other services reach each server as `vllm-<name>`. */
  network: pulumi.Input<string>;
  /** API key clients must send, the same for every server; a secret. */
  apiKey: pulumi.Input<string>;
  /** Hugging Face token for gated models. @default none */
  huggingfaceToken?: pulumi.Input<string>;
  /** OTLP traces endpoint (Phoenix). @default `vllm.config.otlpTracesEndpoint`, else no tracing */
  otlpTracesEndpoint?: pulumi.Input<string>;
  /** `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, e.g. a Bearer API key; a secret. @default none */
  otlpTracesHeaders?: pulumi.Input<string>;
  /** Container log rotation; the host's Docker defaults. */
  log: DockerConfig["log"];
  /** Docker verified on the host; the image pull waits for it, and only for it. */
  dockerReady: pulumi.Input<pulumi.Resource>;
  /** What else the containers need: the NVIDIA stack verified, the cache's disk. @default [] */
  hostReady?: pulumi.Input<pulumi.Resource>[];
  /** Escape hatch to tune a server's container without forking the component. @default none */
  transform?: { container?: (args: docker.ContainerArgs, server: ResolvedServer) => docker.ContainerArgs };
}

/** What a stack output says about one server. */
export interface ServerSummary {
  /** `http://<host>:<port>/v1`. */
  baseUrl: string;
  servedModelName: string;
  kind: ResolvedServer["kind"];
  model: string;
  gpus: string[];
  /** Its share of each of its GPUs: the fraction and GiB it reserves. */
  vram: { gpuMemoryUtilization: number; reservedGiBPerGpu: number };
  vramPlan: VramPlan;
}

/** The vLLM servers on one GPU host: one pinned image, one GPU container per server. */
export class Vllm extends pulumi.ComponentResource {
  /** Containers by server name. */
  readonly containers: Readonly<Record<string, docker.Container>>;
  readonly servers: Readonly<Record<string, ServerSummary>>;

  constructor(name: string, args: VllmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("citadel:llm:Vllm", name, {}, opts);
    const v = args.vllm;
    for (const s of v.servers) {
      if (!s.plan.fits) throw new Error(describeVramFailure(s.config.model, v.hostName, s.plan));
    }
    const image = new docker.RemoteImage(
      `${name}-image`,
      { name: v.config.image, keepLocally: true },
      { parent: this, provider: args.provider, dependsOn: [args.dockerReady] },
    );
    const containers: Record<string, docker.Container> = {};
    const servers: Record<string, ServerSummary> = {};
    // Servers that share a GPU start one after the other, by name: each container waits (its
    // create waits for healthy) for the earlier ones, whose memory its own start check counts on
    // (resolve.ts, firstBlocked).
    const started: ResolvedServer[] = [];
    for (const s of [...v.servers].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const before = started
        .filter((e) => e.gpuIds.some((g) => s.gpuIds.includes(g)))
        .map((e) => containers[e.name] as docker.Container);
      containers[s.name] = this.createContainer(`${name}-${s.name}`, s, args, image, before);
      servers[s.name] = summarize(v, s);
      started.push(s);
    }
    this.containers = containers;
    this.servers = servers;
    this.registerOutputs({ servers: this.servers });
  }

  private createContainer(
    name: string,
    s: ResolvedServer,
    args: VllmArgs,
    image: docker.RemoteImage,
    startAfter: docker.Container[] = [],
  ): docker.Container {
    const v = args.vllm;
    const endpoint = pulumi.output(args.otlpTracesEndpoint ?? v.config.otlpTracesEndpoint);
    const secretEnv = pulumi
      .all([args.apiKey, args.huggingfaceToken, args.otlpTracesHeaders])
      .apply(([key, token, headers]) => [
        `VLLM_API_KEY=${key}`,
        ...(token ? [`HF_TOKEN=${token}`] : []),
        ...(headers ? [`OTEL_EXPORTER_OTLP_TRACES_HEADERS=${headers}`] : []),
      ]);
    const base: docker.ContainerArgs = {
      name: s.container,
      image: image.imageId,
      command: endpoint.apply((e) => renderVllmArgs(s, v.config, e)),
      envs: pulumi.secret(
        pulumi
          .all([secretEnv, endpoint])
          .apply(([secret, e]) => [...renderVllmEnv(s, v.config, e !== undefined), ...secret].sort()),
      ),
      gpus: s.gpus,
      ipcMode: "host",
      ports: [{ internal: CONTAINER_PORT, external: s.config.port }],
      // One cache for every server: a model downloads once, whichever server loads it.
      volumes: [
        { hostPath: `${v.config.cacheDir}/huggingface`, containerPath: HF_CACHE },
        { hostPath: `${v.config.cacheDir}/vllm`, containerPath: VLLM_CACHE },
      ],
      networksAdvanced: [{ name: args.network, aliases: [s.container] }],
      restart: "unless-stopped",
      memory: Math.floor(s.memoryLimitBytes / 1024 ** 2),
      logDriver: args.log.driver,
      logOpts: sortKeys({ "max-file": String(args.log.maxFile), "max-size": args.log.maxSize }),
      healthcheck: {
        tests: renderHealthcheck(s),
        interval: "30s",
        timeout: "10s",
        retries: 3,
        // Downloading and loading a model counts as starting, not as unhealthy.
        startPeriod: `${v.config.startupTimeoutSeconds}s`,
      },
      wait: true,
      waitTimeout: v.config.startupTimeoutSeconds,
      labels: [
        { label: "org.hana-x.citadel.service", value: "vllm" },
        { label: "org.hana-x.citadel.vllm-server", value: s.name },
        { label: "org.hana-x.citadel.vllm-kind", value: s.kind },
        { label: "org.hana-x.citadel.metrics-port", value: String(CONTAINER_PORT) },
        { label: "org.hana-x.citadel.model", value: s.servedModelName },
        // Decided here, wherever cacheDir points: the caches hold nothing that is not downloaded
        // or compiled again (policies/rules/require-backup-coverage.ts reads this label).
        {
          label: "org.hana-x.citadel.backup-exclude",
          value: JSON.stringify({ [v.config.cacheDir]: "model weights and compile caches download again" }),
        },
      ],
    };
    const transformed = args.transform?.container ? args.transform.container(base, s) : base;
    // After the transform, so that a healthcheck it changes still replaces the container.
    const containerArgs = {
      ...transformed,
      labels: pulumi
        .output(transformed.labels ?? [])
        .apply((l) => [...(l ?? []), recreateLabel(transformed as unknown as Record<string, unknown>)]),
    };
    return new docker.Container(`${name}-container`, containerArgs, {
      parent: this,
      provider: args.provider,
      dependsOn: [args.dockerReady, ...(args.hostReady ?? []), ...startAfter],
      // One container name, one host port and not enough VRAM for two copies: replace by
      // stopping the old one first.
      deleteBeforeReplace: true,
      // A first start downloads the model inside the create; the provider's 20 minutes would cut it.
      customTimeouts: containerTimeouts(v.config.startupTimeoutSeconds),
    });
  }
}

/** The stack output for one server. */
export function summarize(v: ResolvedVllm, s: ResolvedServer): ServerSummary {
  return {
    baseUrl: `http://${v.host.address}:${s.config.port}/v1`,
    servedModelName: s.servedModelName,
    kind: s.kind,
    model: s.config.model,
    gpus: s.gpuIds,
    vram: {
      gpuMemoryUtilization: s.config.gpuMemoryUtilization,
      reservedGiBPerGpu: s.plan.perGpu.budgetGiB,
    },
    vramPlan: s.plan,
  };
}
