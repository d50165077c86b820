import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { DockerConfig } from "../config";
import { containerTimeouts, recreateLabel, sortKeys } from "../host/docker";
import {
  CONTAINER_PORT,
  HF_CACHE,
  VLLM_CACHE,
  renderHealthcheck,
  renderVllmArgs,
  renderVllmEnv,
  type ResolvedVllm,
} from "./resolve";
import { describeVramFailure, type VramPlan } from "./vram";

export interface VllmArgs {
  /** The resolved `citadel:vllm` section (see `resolveVllm`), VRAM plan included. */
  vllm: ResolvedVllm;
  /** Docker on the GPU host. */
  provider: docker.Provider;
  /** The lab's user-defined network, so other services reach vLLM as `vllm`. */
  network: pulumi.Input<string>;
  /** API key clients must send; a secret. */
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
  /** What else the container needs: the NVIDIA stack verified, the cache's disk. @default [] */
  hostReady?: pulumi.Input<pulumi.Resource>[];
  /** Escape hatch to tune the container without forking the component. @default none */
  transform?: { container?: (args: docker.ContainerArgs) => docker.ContainerArgs };
}

/** The vLLM OpenAI-compatible server: one GPU container from a pinned image. */
export class Vllm extends pulumi.ComponentResource {
  readonly container: docker.Container;
  /** `http://<host>:<port>/v1`. */
  readonly baseUrl: string;
  readonly servedModelName: string;
  readonly plan: VramPlan;

  constructor(name: string, args: VllmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("citadel:llm:Vllm", name, {}, opts);
    const v = args.vllm;
    if (!v.plan.fits) throw new Error(describeVramFailure(v.config.model, v.hostName, v.plan));
    this.plan = v.plan;
    this.servedModelName = v.servedModelName;
    this.baseUrl = `http://${v.host.address}:${v.config.port}/v1`;

    const image = new docker.RemoteImage(
      `${name}-image`,
      { name: v.config.image, keepLocally: true },
      { parent: this, provider: args.provider, dependsOn: [args.dockerReady] },
    );
    this.container = this.createContainer(name, args, image);
    this.registerOutputs({ baseUrl: this.baseUrl, servedModelName: this.servedModelName, plan: this.plan });
  }

  private createContainer(name: string, args: VllmArgs, image: docker.RemoteImage): docker.Container {
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
      name: "vllm",
      image: image.imageId,
      command: endpoint.apply((e) => renderVllmArgs(v, e)),
      envs: pulumi.secret(
        pulumi
          .all([secretEnv, endpoint])
          .apply(([secret, e]) => [...renderVllmEnv(v, e !== undefined), ...secret].sort()),
      ),
      gpus: v.gpus,
      ipcMode: "host",
      ports: [{ internal: CONTAINER_PORT, external: v.config.port }],
      volumes: [
        { hostPath: `${v.config.cacheDir}/huggingface`, containerPath: HF_CACHE },
        { hostPath: `${v.config.cacheDir}/vllm`, containerPath: VLLM_CACHE },
      ],
      networksAdvanced: [{ name: args.network, aliases: ["vllm"] }],
      restart: "unless-stopped",
      memory: Math.floor(v.memoryLimitBytes / 1024 ** 2),
      logDriver: args.log.driver,
      logOpts: sortKeys({ "max-file": String(args.log.maxFile), "max-size": args.log.maxSize }),
      healthcheck: {
        tests: renderHealthcheck(v),
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
        { label: "org.hana-x.citadel.metrics-port", value: String(CONTAINER_PORT) },
        { label: "org.hana-x.citadel.model", value: v.servedModelName },
      ],
    };
    const transformed = args.transform?.container ? args.transform.container(base) : base;
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
      dependsOn: [args.dockerReady, ...(args.hostReady ?? [])],
      // One container name, one host port and not enough VRAM for two copies: replace by
      // stopping the old one first.
      deleteBeforeReplace: true,
      // A first start downloads the model inside the create; the provider's 20 minutes would cut it.
      customTimeouts: containerTimeouts(v.config.startupTimeoutSeconds),
    });
  }
}
