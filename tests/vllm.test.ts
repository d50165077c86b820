/** vLLM under mocks: the container's inputs, its secrets, its ordering and the config it refuses. */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { LabConfigError } from "../components/config";
import { parseLabConfig } from "../components/plan";
import { flagOf } from "../components/plan";
import { imageOf, PINS } from "../components/pins";
import { COMPONENTS_DIR } from "../components/remote";
import type { SynthResult } from "../lib/synth/harness";
import { fromConfigMap, stackConfigSource } from "../lib/synth/stackfile";
import { LAB_SECRETS, labConfigMap } from "./support/lab";
import { byName, dependencyNames, synthFailure, synthLab } from "./support/synth";

/** A cross-encoder reranker on GPU 1 beside the embed server: XLM-RoBERTa, encoder-only. */
const RERANK = {
  model: "BAAI/bge-reranker-v2-m3",
  servedModelName: "bge-reranker-v2-m3",
  kind: "rerank",
  gpus: [1],
  maxModelLen: 8192,
  gpuMemoryUtilization: 0.25,
  port: 8002,
  memoryLimit: "8GiB",
};

/** The shared section, and one server in it (the chat server unless named). */
const sectionOf = (config: Record<string, any>) => config["citadel:vllm"];
const vllmOf = (config: Record<string, any>, server = "chat") => sectionOf(config).servers[server];
/**
 * The single-server layout of the first build: Qwen3-8B in bf16 across both GPUs at TP 2, no
 * embed server. The numbers of several refusals below are that layout's.
 */
function acrossBothGpus(config: Record<string, any>): Record<string, any> {
  const section = sectionOf(config);
  section.servers = {
    chat: {
      model: "Qwen/Qwen3-8B",
      servedModelName: "qwen3-8b",
      maxModelLen: 32768,
      gpuMemoryUtilization: 0.9,
      gpus: "all",
      port: 8000,
      memoryLimit: "32GiB",
    },
  };
  return config;
}

let lab: SynthResult;
beforeAll(async () => {
  lab = await synthLab();
});

const container = (result: SynthResult = lab, server = "chat") => byName(result, `vllm-${server}-container`);
const raw = (result: SynthResult = lab, server = "chat") =>
  container(result, server).rawInputs as Record<string, any>;

describe("the vLLM container", () => {
  it("runs the chat server on GPU 0 alone with host IPC, fp8 weights and KV cache, TP 1", () => {
    expect(raw().gpus).toBe('"device=0"');
    expect(raw().ipcMode).toBe("host");
    expect(raw().command).toEqual([
      // Positional: `vllm serve MODEL` (serve.py@v0.34.0 deprecates --model).
      "Qwen/Qwen3-8B",
      "--runner",
      "generate",
      "--served-model-name",
      "qwen3-8b",
      "--host",
      "0.0.0.0",
      "--port",
      "8000",
      "--max-model-len",
      "32768",
      "--gpu-memory-utilization",
      "0.92",
      "--tensor-parallel-size",
      "1",
      // `fp8` is a deprecated alias of it (model_loader/weight_utils.py@v0.34.0).
      "--quantization",
      "fp8_per_tensor",
      "--kv-cache-dtype",
      "fp8",
      // The LadonStack is on citadel, so traces go to Phoenix over the lab network.
      "--otlp-traces-endpoint",
      "grpc://phoenix:4317",
    ]);
  });

  it("runs the embed server on GPU 1 through vLLM's pooling runner and embed adapter", () => {
    expect(raw(lab, "embed").gpus).toBe('"device=1"');
    expect(raw(lab, "embed").command).toEqual([
      "Qwen/Qwen3-Embedding-0.6B",
      "--runner",
      "pooling",
      "--convert",
      "embed",
      "--served-model-name",
      "qwen3-embedding-0.6b",
      "--host",
      "0.0.0.0",
      "--port",
      "8000",
      "--max-model-len",
      "8192",
      "--gpu-memory-utilization",
      "0.3",
      "--tensor-parallel-size",
      "1",
      "--kv-cache-dtype",
      "auto",
      "--otlp-traces-endpoint",
      "grpc://phoenix:4317",
    ]);
    expect(raw(lab, "embed")).toMatchObject({
      name: "vllm-embed",
      ports: [{ external: 8001, internal: 8000 }],
      networksAdvanced: [{ aliases: ["vllm-embed"], name: "citadel" }],
      memory: 8192,
    });
  });

  it("sets the GeForce and cache environment, with the API key from the secret", () => {
    expect(raw().envs).toEqual([
      "HF_HOME=/root/.cache/huggingface",
      "NCCL_P2P_DISABLE=1",
      // Phoenix's API key, from the key step's output (empty under mocks).
      "OTEL_EXPORTER_OTLP_TRACES_HEADERS=authorization=Bearer%20",
      // vLLM's spans land in their own Phoenix project, each server as its own service.
      "OTEL_RESOURCE_ATTRIBUTES=openinference.project.name=vllm",
      "OTEL_SERVICE_NAME=vllm-chat",
      "VLLM_API_KEY=PLACEHOLDER-citadel-vllmApiKey-set-by-npm-start-0",
      "VLLM_CACHE_ROOT=/root/.cache/vllm",
    ]);
  });

  it("keeps the environment secret, and the key out of the command line and the healthcheck", () => {
    expect(container().inputs.envs).toBe("[secret]");
    const visible = JSON.stringify(lab.resources.map((r) => r.inputs));
    expect(visible).not.toContain("PLACEHOLDER");
    expect(JSON.stringify(raw().command)).not.toContain("PLACEHOLDER");
    expect(JSON.stringify(raw().healthcheck)).not.toContain("PLACEHOLDER");
    expect(lab.outputs.vllmApiKey).toBe("[secret]");
    expect(lab.outputs.hades).toBe("[secret]");
  });

  it("restarts unless stopped, with a memory limit and log rotation", () => {
    expect(raw()).toMatchObject({
      restart: "unless-stopped",
      memory: 32768,
      logDriver: "json-file",
      logOpts: { "max-file": "5", "max-size": "50m" },
    });
  });

  it("is ready only when /v1/models lists the served model, and create waits for that", () => {
    const hc = raw().healthcheck;
    expect(hc.tests.slice(0, 3)).toEqual(["CMD", "python3", "-c"]);
    expect(hc.tests[3]).toContain("/v1/models");
    expect(hc.tests[3]).toContain('os.environ["VLLM_API_KEY"]');
    expect(hc.startPeriod).toBe("1800s");
    expect(raw().wait).toBe(true);
    expect(raw().waitTimeout).toBe(1800);
  });

  it("keeps both caches, shared by every server, on the big disk and joins the lab network as vllm-chat", () => {
    for (const server of ["chat", "embed"]) {
      expect(raw(lab, server).volumes).toEqual([
        { containerPath: "/root/.cache/huggingface", hostPath: "/srv/models/huggingface" },
        { containerPath: "/root/.cache/vllm", hostPath: "/srv/models/vllm" },
      ]);
    }
    expect(raw().networksAdvanced).toEqual([{ aliases: ["vllm-chat"], name: "citadel" }]);
    expect(raw().ports).toEqual([{ external: 8000, internal: 8000 }]);
  });

  it("gives create and update more time than the model load: the provider's 20-minute default would cut it", () => {
    // startupTimeoutSeconds is 1800 (30 min): wait runs inside create, so create gets 40 minutes.
    expect(container().customTimeouts).toEqual({ create: "40m", update: "40m", delete: "10m" });
  });

  it("replaces the container when its healthcheck changes, which the provider would never apply", async () => {
    const config = labConfigMap();
    sectionOf(config).startupTimeoutSeconds = 3600;
    const labels = (r: SynthResult) =>
      (raw(r).labels as { label: string; value: string }[]).find(
        (l) => l.label === "org.hana-x.citadel.recreate-hash",
      );
    const other = await synthLab(config);
    expect(labels(lab)?.value).toMatch(/^[0-9a-f]{16}$/);
    expect(labels(other)?.value).not.toBe(labels(lab)?.value);
  });

  it("uses the pinned image, kept locally, and replaces by stopping the old container first", () => {
    expect(byName(lab, "vllm-image").rawInputs).toEqual({
      keepLocally: true,
      name: imageOf(PINS.vllm),
    });
    expect(raw().image).toBe(imageOf(PINS.vllm));
    expect(container().deleteBeforeReplace).toBe(true);
  });

  it("waits for Docker, the NVIDIA check, the cache's disk, its image and Phoenix's key, and for nothing else", () => {
    expect(dependencyNames(lab, container())).toEqual([
      "citadel-docker-network",
      "citadel-docker-verify",
      "citadel-nvidia-verify",
      "citadel-storage-lvm",
      "ladon-phoenix-trace-key",
      "vllm-image",
    ]);
    expect(dependencyNames(lab, byName(lab, "vllm-image"))).toEqual(["citadel-docker-verify"]);
  });

  it("talks to Docker on citadel over SSH, refusing unknown host keys", () => {
    const provider = byName(lab, "citadel-docker-provider");
    expect(provider.type).toBe("pulumi:providers:docker");
    expect(provider.rawInputs.host).toBe("ssh://hxadmin@192.168.10.29:22");
    expect(JSON.parse(String(provider.rawInputs.sshOpts))).toEqual([
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=yes",
    ]);
    expect(container().provider).toBe(provider.urn);
  });

  it("exports each server's base URL, served name, kind and VRAM share, and the plan per GPU", () => {
    expect(lab.outputs.vllm).toMatchObject({
      host: "citadel",
      servers: {
        chat: {
          baseUrl: "http://192.168.10.29:8000/v1",
          servedModelName: "qwen3-8b",
          kind: "generate",
          gpus: ["0"],
          vram: { gpuMemoryUtilization: 0.92, reservedGiBPerGpu: 14.35 },
          vramPlan: { fits: true, tensorParallelSize: 1, perGpu: { weightsGiB: 8.79 } },
        },
        embed: {
          baseUrl: "http://192.168.10.29:8001/v1",
          servedModelName: "qwen3-embedding-0.6b",
          kind: "embed",
          gpus: ["1"],
          vram: { gpuMemoryUtilization: 0.3, reservedGiBPerGpu: 4.68 },
        },
      },
      gpus: [
        // Of the 15.6 GiB cudaMemGetInfo reports: each share, plus 0.5 GiB of baseline per server.
        { gpu: "0", utilization: 0.92, reservedGiB: 14.85, totalGiB: 15.6, freeGiB: 0.75 },
        { gpu: "1", utilization: 0.3, reservedGiB: 5.18, totalGiB: 15.6, freeGiB: 10.42 },
      ],
    });
  });
});

describe("vLLM options", () => {
  it("selects GPUs by index, quoting the device list for docker, with TP from the selection", async () => {
    const config = acrossBothGpus(labConfigMap());
    Object.assign(vllmOf(config), {
      model: "Qwen/Qwen2.5-14B-Instruct-AWQ",
      quantization: "awq",
      gpus: [1],
      maxModelLen: 16384,
      kvCacheDtype: "fp8",
      extraArgs: ["--enable-prefix-caching"],
    });
    const result = await synthLab(config);
    expect(raw(result).gpus).toBe('"device=1"');
    const command = raw(result).command as string[];
    expect(
      command.slice(command.indexOf("--tensor-parallel-size"), command.indexOf("--tensor-parallel-size") + 2),
    ).toEqual(["--tensor-parallel-size", "1"]);
    expect(command).toContain("--quantization");
    expect(command).not.toContain("--disable-custom-all-reduce");
    expect(command.slice(-1)).toEqual(["--enable-prefix-caching"]);
  });

  it("selects GPUs by UUID", async () => {
    const config = acrossBothGpus(labConfigMap());
    vllmOf(config).gpus = [
      "GPU-0b7a5c2e-1111-2222-3333-444455556666",
      "GPU-9f3e1d2c-aaaa-bbbb-cccc-ddddeeeeffff",
    ];
    expect(raw(await synthLab(config)).gpus).toBe(
      '"device=GPU-0b7a5c2e-1111-2222-3333-444455556666,GPU-9f3e1d2c-aaaa-bbbb-cccc-ddddeeeeffff"',
    );
  });

  it("sends traces to the configured OTLP endpoint, else to Phoenix, else nowhere", async () => {
    const config = labConfigMap();
    sectionOf(config).otlpTracesEndpoint = "grpc://tempo.hana-x.lab:4317";
    const result = await synthLab(config);
    expect(raw(result).command.slice(-2)).toEqual(["--otlp-traces-endpoint", "grpc://tempo.hana-x.lab:4317"]);
    expect(raw(result).envs).toEqual(expect.arrayContaining(["OTEL_SERVICE_NAME=vllm-chat"]));
    // Phoenix's key goes only to Phoenix: another endpoint gets no headers.
    expect(raw(result).envs.join(" ")).not.toContain("OTEL_EXPORTER_OTLP_TRACES_HEADERS");
    expect(raw(lab).command.slice(-2)).toEqual(["--otlp-traces-endpoint", "grpc://phoenix:4317"]);
    const bare = labConfigMap();
    delete bare["citadel:ladon"];
    const noStack = await synthLab(bare);
    expect(raw(noStack).command).not.toContain("--otlp-traces-endpoint");
    expect(raw(noStack).envs.join(" ")).not.toContain("OTEL_");
  });

  it("lets both GeForce defaults be turned off", async () => {
    const across = await synthLab(acrossBothGpus(labConfigMap()));
    expect(raw(across).command).toContain("--disable-custom-all-reduce");
    const config = acrossBothGpus(labConfigMap());
    sectionOf(config).geforce = { ncclP2PDisable: false, disableCustomAllReduce: false };
    const result = await synthLab(config);
    expect(raw(result).envs.join(" ")).not.toContain("NCCL_P2P_DISABLE");
    expect(raw(result).command).not.toContain("--disable-custom-all-reduce");
  });

  it("passes the Hugging Face token only when it is set, as a secret", async () => {
    expect(raw(lab).envs.join(" ")).not.toContain("HF_TOKEN");
    const config = labConfigMap();
    config["citadel:huggingfaceToken"] = { secure: "v1:encrypted" };
    const result = await synthLab(config);
    expect(raw(result).envs).toContain("HF_TOKEN=PLACEHOLDER-citadel-huggingfaceToken-set-by-npm-start-0");
    expect(container(result).inputs.envs).toBe("[secret]");
  });
});

describe("vLLM config is refused with the key named", () => {
  type Mutation = (v: Record<string, any>, section: Record<string, any>) => void;
  const cases: [string, Mutation, string, RegExp][] = [
    [
      "tensor parallel larger than the selected GPUs",
      (v) => Object.assign(v, { gpus: [0], tensorParallelSize: 2 }),
      "citadel:vllm.servers.chat.tensorParallelSize",
      /2 is larger than the server's 1 selected GPUs/,
    ],
    [
      "utilization of 0",
      (v) => (v.gpuMemoryUtilization = 0),
      "citadel:vllm.servers.chat.gpuMemoryUtilization",
      /example: 0.9/,
    ],
    [
      "utilization above 1",
      (v) => (v.gpuMemoryUtilization = 1.5),
      "citadel:vllm.servers.chat.gpuMemoryUtilization",
      /example: 0.9/,
    ],
    [
      "a missing max-model-len",
      (v) => delete v.maxModelLen,
      "citadel:vllm.servers.chat.maxModelLen",
      /expected number/,
    ],
    [
      "an unknown model without its facts",
      (v) => (v.model = "acme/secret-model-7b"),
      "citadel:vllm.servers.chat.modelFacts",
      /not in the built-in catalog .*give its facts from its config.json/,
    ],
    [
      "an extra argument citadel owns",
      (v) => (v.extraArgs = ["--max_model_len=4096"]),
      "citadel:vllm.servers.chat.extraArgs[0]",
      /--max-model-len is set by citadel from its own key/,
    ],
    [
      "a GPU index the host does not have",
      (v) => (v.gpus = [0, 2]),
      "citadel:vllm.servers.chat.gpus[1]",
      /GPU index 2 does not exist; citadel has 2 GPUs/,
    ],
    ["a GPU selected twice", (v) => (v.gpus = [1, 1]), "citadel:vllm.servers.chat.gpus[1]", /selected twice/],
    [
      "an API port in the monitoring range",
      (v) => (v.port = 9950),
      "citadel:vllm.servers.chat.port",
      /monitoring range 9900-9999/,
    ],
    [
      "the latest tag",
      (_v, section) => (section.image = "vllm/vllm-openai:latest"),
      "citadel:vllm.image",
      /must not use the latest tag/,
    ],
    [
      "no tag at all",
      (_v, section) => (section.image = "vllm/vllm-openai"),
      "citadel:vllm.image",
      /explicit tag/,
    ],
    [
      "a host that does not exist",
      (_v, section) => (section.host = "olympus"),
      "citadel:vllm.host",
      /no host named "olympus"/,
    ],
    [
      "a context that does not fit the KV cache",
      (v) => Object.assign(v, { model: "meta-llama/Llama-3.1-8B-Instruct", maxModelLen: 131072 }),
      "citadel:vllm.servers.chat.maxModelLen",
      /needs 8 GiB of KV cache per GPU.*Fix: lower vllm.servers.chat.maxModelLen to 66496 or less/,
    ],
    [
      "a model longer than its context",
      (v) => (v.maxModelLen = 65536),
      "citadel:vllm.servers.chat.maxModelLen",
      /beyond Qwen\/Qwen3-8B's context of 40960/,
    ],
    [
      "a model that does not fit the GPUs",
      (v) => (v.gpuMemoryUtilization = 0.6),
      "citadel:vllm.servers.chat.model",
      /vLLM could not start Qwen\/Qwen3-8B on citadel: the weights need 7.63 GiB per GPU at TP=2.*Fix: raise vllm.servers.chat.gpuMemoryUtilization to 0.8; or spread the model over more GPUs/,
    ],
    [
      "a container limit above the host's RAM",
      (v) => (v.memoryLimit = "64GiB"),
      "citadel:vllm.servers.chat.memoryLimit",
      /not below citadel's 64 GiB of RAM/,
    ],
    [
      "two servers on one port",
      (_v, section) => (section.servers.embed.port = 8000),
      "citadel:vllm.servers.embed.port",
      /8000 is also servers.chat.port; each server needs its own port/,
    ],
    [
      "an embed server given a generate-only model",
      (_v, section) =>
        Object.assign(section.servers.embed, {
          model: "Qwen/Qwen3-8B",
          gpuMemoryUtilization: 0.9,
          gpus: "all",
        }),
      "citadel:vllm.servers.embed.kind",
      /Qwen\/Qwen3-8B is a generate model \(its model card\), so a embed server cannot serve it; use a embed model such as Qwen\/Qwen3-Embedding-0.6B/,
    ],
    [
      "utilizations that add up to more than 1 on one GPU",
      (_v, section) => (section.servers.embed.gpus = [0]),
      "citadel:vllm.servers.embed.gpuMemoryUtilization",
      /servers.embed would not get its share of GPU 0 on citadel after servers.chat \(14.35 GiB share \+ 0.5 GiB baseline\), which start before it: its share is 4.68 GiB \(0.3 of the 15.6 GiB cudaMemGetInfo reports.*but only 0.25 GiB is left\. .*Lower servers.embed.gpuMemoryUtilization to 0.01/,
    ],
    [
      "two servers on one GPU whose fractions add up to exactly 1",
      (_v, section) => (section.servers.rerank = { ...RERANK, gpuMemoryUtilization: 0.7 }),
      "citadel:vllm.servers.rerank.gpuMemoryUtilization",
      /servers.rerank would not get its share of GPU 1 on citadel after servers.embed \(4.68 GiB share \+ 0.5 GiB baseline\), which start before it: its share is 10.92 GiB \(0.7 of the 15.6 GiB cudaMemGetInfo reports\) beside its own 0.5 GiB baseline \(CUDA context, cuBLAS, NCCL: v1\/worker\/gpu_worker.py init_device@v0.34.0\), but only 9.92 GiB is left\. vLLM 0.34 takes the share as a cap.*Lower servers.rerank.gpuMemoryUtilization to 0.63$/,
    ],
    [
      "a server that takes the whole GPU",
      (_v, section) => (section.servers.embed.gpuMemoryUtilization = 1),
      "citadel:vllm.servers.embed.gpuMemoryUtilization",
      /servers.embed would not get its share of GPU 1 on citadel: its share is 15.6 GiB .* but only 15.1 GiB is left\. .*Lower servers.embed.gpuMemoryUtilization to 0.96$/,
    ],
    [
      "fp8, vLLM's deprecated name for online fp8",
      (v) => (v.quantization = "fp8"),
      "citadel:vllm.servers.chat.quantization",
      /fp8 is vLLM's deprecated name for online fp8 quantization; write fp8_per_tensor/,
    ],
    [
      "an embed server on a GPU the host does not have",
      (_v, section) => (section.servers.embed.gpus = [2]),
      "citadel:vllm.servers.embed.gpus[0]",
      /GPU index 2 does not exist; citadel has 2 GPUs \(0-1\)/,
    ],
    [
      "a server name that cannot name a container",
      (_v, section) => (section.servers["Chat Model"] = section.servers.embed),
      "citadel:vllm.servers.Chat Model",
      /a server name is 1-24 lowercase letters/,
    ],
    [
      "no server at all",
      (_v, section) => (section.servers = {}),
      "citadel:vllm.servers",
      /at least one server/,
    ],
    ["a typo", (v) => (v.maxModelLength = 4096), "citadel:vllm.servers.chat.maxModelLength", /unknown key/],
  ];

  // The cases that depend on the first build's numbers run on its layout (acrossBothGpus).
  const ownLayout = /server|GPU the host|port|embed|one GPU/;
  it.each(cases)("%s", (what, mutate, key, message) => {
    const config = ownLayout.test(what) ? labConfigMap() : acrossBothGpus(labConfigMap());
    mutate(vllmOf(config), sectionOf(config));
    let error: unknown;
    try {
      parseLabConfig(stackConfigSource(fromConfigMap(config), LAB_SECRETS));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(LabConfigError);
    const line = (error as Error).message.split("\n").find((l) => l.startsWith(`  - ${key}: `));
    expect(line).toMatch(message);
  });

  it("refuses a driver branch older than the image's CUDA needs, naming the host's key", () => {
    const config = labConfigMap();
    config["citadel:hosts"].citadel.nvidia.driver.branch = "570";
    expect(() => parseLabConfig(stackConfigSource(fromConfigMap(config), LAB_SECRETS))).toThrow(
      /citadel:vllm.host: vllm\/vllm-openai:v0\.34\.0 is built on CUDA 13, which needs NVIDIA driver branch 580 or newer, but citadel is pinned to 570; raise citadel:hosts\.citadel\.nvidia\.driver\.branch/,
    );
  });

  it("registers no resource when the VRAM plan fails", async () => {
    const config = acrossBothGpus(labConfigMap());
    vllmOf(config).tensorParallelSize = 1;
    const failure = await synthFailure(config);
    expect(failure.registered).toBe(0);
    expect(failure.message).toContain(
      "vLLM could not start Qwen/Qwen3-8B on citadel: the weights need 15.26 GiB per GPU at TP=1",
    );
  });

  it("normalises flags the way vLLM's parser does", () => {
    expect(flagOf("--max_model_len=4096")).toBe("--max-model-len");
    expect(flagOf("-tp")).toBe("-tp");
    expect(flagOf("4096")).toBeUndefined();
  });
});

describe("a single-server config from before servers", () => {
  it("is refused with its migration: the section as it must read, and nothing applied", async () => {
    const config = labConfigMap();
    config["citadel:vllm"] = {
      host: "citadel",
      model: "Qwen/Qwen3-8B",
      servedModelName: "qwen3-8b",
      maxModelLen: 32768,
      gpus: "all",
      cacheDir: "/srv/models",
    };
    let message = "";
    try {
      parseLabConfig(stackConfigSource(fromConfigMap(config), LAB_SECRETS));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(
      "citadel:vllm: model, servedModelName, maxModelLen, gpus now belong to one server under citadel:vllm.servers.<name>",
    );
    expect(message).toMatch(
      /citadel:vllm:\n {8}host: citadel\n {8}cacheDir: \/srv\/models\n {8}servers:\n {10}chat:\n {12}model: Qwen\/Qwen3-8B\n {12}servedModelName: qwen3-8b\n {12}maxModelLen: 32768\n {12}gpus: all\n {12}port: 8000/,
    );
    expect(message).toContain("replaces the old vllm container once (the model cache is kept)");
    // The migrated section, pasted back, is accepted.
    config["citadel:vllm"] = {
      host: "citadel",
      cacheDir: "/srv/models",
      servers: {
        chat: {
          model: "Qwen/Qwen3-8B",
          servedModelName: "qwen3-8b",
          maxModelLen: 32768,
          gpus: "all",
          port: 8000,
        },
      },
    };
    expect(() => parseLabConfig(stackConfigSource(fromConfigMap(config), LAB_SECRETS))).not.toThrow();
    const legacy = labConfigMap();
    legacy["citadel:vllm"] = { host: "citadel", model: "Qwen/Qwen3-8B", maxModelLen: 32768 };
    expect((await synthFailure(legacy)).registered).toBe(0);
  });
});

describe("Phoenix for HADES", () => {
  it("creates HADES's project and its own system key through Phoenix's API, and exports them only as a secret", () => {
    const step = byName(lab, "ladon-phoenix-hades");
    expect(step.type).toBe("command:remote:Command");
    const create = String(step.rawInputs.create);
    expect(create).toContain("export PROJECT='hades'");
    expect(create).toContain("export KEY_NAME='hades'");
    expect(create).not.toContain("PLACEHOLDER");
    expect(lab.outputs.hades).toBe("[secret]");
    // vLLM's own key files its spans in the vllm project.
    expect(String(byName(lab, "ladon-phoenix-trace-key").rawInputs.create)).toContain(
      "export PROJECT='vllm'",
    );
  });
});

describe("advice that names the right key", () => {
  const problemsFor = (mutate: (c: Record<string, any>) => void): string[] => {
    const config = labConfigMap();
    mutate(config);
    try {
      parseLabConfig(stackConfigSource(fromConfigMap(config), LAB_SECRETS));
      return [];
    } catch (err) {
      return (err as Error).message.split("\n").filter((l) => l.startsWith("  - "));
    }
  };

  it("blames the GPU selection, not an unset tensorParallelSize, for a TP that does not divide the heads", () => {
    const lines = problemsFor((c) => {
      acrossBothGpus(c);
      c["citadel:hosts"].citadel.nvidia.gpus.count = 3;
    });
    const line = lines.find((l) => l.includes("attention heads"));
    expect(line).toMatch(
      /^ {2}- citadel:vllm\.servers\.chat\.gpus: tensor parallelism defaults to the 3 selected GPUs/,
    );
    expect(line).toContain("set tensorParallelSize to 2");
  });

  it("never suggests a max-model-len beyond the model's own context", () => {
    // 65536 is beyond Qwen3-8B's 40960, and the KV cache holds 62222 tokens: the old advice said 62208.
    const lines = problemsFor((c) => (acrossBothGpus(c)["citadel:vllm"].servers.chat.maxModelLen = 65536));
    const advice = lines
      .map((l) => /lower vllm\.servers\.chat\.maxModelLen to (\d+)/.exec(l)?.[1])
      .filter(Boolean);
    expect(advice).toEqual(["40960"]);
  });

  it("points at vLLM's memory limit when it is what does not fit the host", () => {
    const lines = problemsFor((c) => (c["citadel:hosts"].citadel.memoryGiB = 33));
    expect(lines.join("\n")).toMatch(
      /largest: vllm-chat 32768 MiB.*Lower vllm\.servers\.chat\.memoryLimit \(the largest\)/,
    );
  });
});

describe("a reranker beside the embed server on GPU 1", () => {
  let result: SynthResult;
  beforeAll(async () => {
    const config = labConfigMap();
    sectionOf(config).servers.rerank = { ...RERANK };
    result = await synthLab(config);
  });
  const servers = () => (result.outputs.vllm as { servers: Record<string, any>; gpus: any[] }).servers;

  it("plans the cross-encoder as weights plus activations, with no KV cache (encoder-only)", () => {
    // 0.25 of 15.6 GiB is 3.9 GiB: 1.06 GiB of weights and the 2.5 GiB reserve fit; decoder KV
    // arithmetic would have wanted 0.75 GiB more for one 8192-token request.
    expect(servers().rerank.vramPlan).toMatchObject({
      fits: true,
      perGpu: { budgetGiB: 3.9, weightsGiB: 1.06, reserveGiB: 2.5, kvBudgetGiB: 0, kvBytesPerToken: 0 },
    });
  });

  it("starts it after the embed server it shares GPU 1 with, and the chat server on its own", () => {
    expect(dependencyNames(result, container(result, "rerank"))).toContain("vllm-embed-container");
    expect(dependencyNames(result, container(result, "embed"))).not.toContain("vllm-chat-container");
    expect(dependencyNames(result, container(result, "chat"))).not.toContain("vllm-embed-container");
    expect((result.outputs.vllm as { gpus: any[] }).gpus[1]).toEqual({
      gpu: "1",
      servers: [
        { server: "embed", utilization: 0.3, reservedGiB: 4.68, baselineGiB: 0.5 },
        { server: "rerank", utilization: 0.25, reservedGiB: 3.9, baselineGiB: 0.5 },
      ],
      utilization: 0.55,
      reservedGiB: 9.58,
      totalGiB: 15.6,
      freeGiB: 6.02,
    });
  });

  it("checks, probes and benchmarks reranking at /rerank, where vLLM 0.34.0 logs no deprecation", () => {
    const healthcheck = (raw(result, "rerank").healthcheck as { tests: string[] }).tests.join(" ");
    expect(healthcheck).toContain('call("/rerank", {"model": "bge-reranker-v2-m3"');
    expect(healthcheck).not.toContain("/v1/rerank");
    const probe = readFileSync(path.join(COMPONENTS_DIR, "ops/scripts/probe.sh"), "utf8");
    const baseline = readFileSync(path.join(COMPONENTS_DIR, "ops/scripts/baseline.sh"), "utf8");
    expect(`${probe}\n${baseline}`).not.toMatch(/\/v1\/rerank(?! logs)/);
    expect(probe).toMatch(/vllm_call "\$container" \/rerank /);
    expect(baseline).toMatch(/--backend vllm-rerank --endpoint \/rerank /);
  });
});
