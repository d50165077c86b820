/**
 * vLLM's config checks (components/config/vllm.ts) as an operator meets them: each value a check
 * refuses, refused at its own key with its own message, the edge values it accepts, and the
 * defaults. Pure and fast (no synthesis), from the committed stack file with one key changed.
 */
import { serversOf } from "../components/config/vllm";
import { imageOf, PINS } from "../components/pins";
import { labConfigMap } from "./support/lab";
import { loadLab, refusals, verdict, withKey } from "./support/verdict";

const at = (key: string) => `citadel:vllm.${key}`;
const UUID = "GPU-0123abcd-4567-89ab-cdef-0123456789ab";
const DIGEST = "a".repeat(64);
const PINNED = imageOf(PINS.vllm);

describe("vLLM's config checks refuse, at the key, with a fix", () => {
  it.each([
    [
      "image",
      "vllm/vllm-openai",
      "must be an image with an explicit tag, e.g. repo/name:v1.2.3 (a digest may follow)",
    ],
    [
      "image",
      "Vllm/vllm-openai:v1",
      "must be an image with an explicit tag, e.g. repo/name:v1.2.3 (a digest may follow)",
    ],
    [
      "image",
      `${PINNED}@sha256:${"a".repeat(63)}`,
      "must be an image with an explicit tag, e.g. repo/name:v1.2.3 (a digest may follow)",
    ],
    [
      "image",
      `${PINNED}@sha256:${"g".repeat(64)}`,
      "must be an image with an explicit tag, e.g. repo/name:v1.2.3 (a digest may follow)",
    ],
    ["image", "vllm/vllm-openai:latest", "must not use the latest tag; pin a version"],
    ["image", `vllm/vllm-openai:latest@sha256:${DIGEST}`, "must not use the latest tag; pin a version"],
    [
      "image",
      "vllm/vllm-openai:v0.1.0",
      `must be ${PINNED}, optionally with @sha256:<digest>; the tag is bumped in components/pins.ts together with the vLLM release that checks it`,
    ],
    ["servers", {}, "declare at least one server, e.g. servers.chat"],
    ["servers.chat.model", "Qwen3-8B", "must be a Hugging Face model id, org/name"],
    ["servers.chat.servedModelName", "qwen 3", "must be letters, digits, . _ / -"],
    [
      "servers.chat.gpus",
      ["GPU-0123abcd"],
      "must be a GPU index or a UUID as nvidia-smi -L prints it (GPU-xxxxxxxx-...)",
    ],
    [
      "servers.chat.gpus",
      [`x${UUID}`],
      "must be a GPU index or a UUID as nvidia-smi -L prints it (GPU-xxxxxxxx-...)",
    ],
    [
      "servers.chat.gpus",
      [`${UUID}0`],
      "must be a GPU index or a UUID as nvidia-smi -L prints it (GPU-xxxxxxxx-...)",
    ],
    [
      "servers.chat.gpus",
      [UUID.toUpperCase().replace("GPU-0123ABCD", "GPU-0123abcd")],
      "must be a GPU index or a UUID as nvidia-smi -L prints it (GPU-xxxxxxxx-...)",
    ],
    [
      "servers.chat.quantization",
      "fp8",
      "fp8 is vLLM's deprecated name for online fp8 quantization; write fp8_per_tensor, the name vLLM 0.34.0 maps it to",
    ],
    ["servers.chat.memoryLimit", "lots", "must be a size such as 32GiB"],
    ["cacheDir", "models", "must be an absolute path"],
    ["otlpTracesEndpoint", "phoenix:4317", "must be a grpc:// or http(s):// URL"],
    ["otlpTracesEndpoint", "grpc://phoenix:4317x", "must be a grpc:// or http(s):// URL"],
  ])("%s: %j", (key, value, message) => {
    expect(refusals(at(key), value)).toContain(message);
  });

  it("names a server whose name is not one", () => {
    const config = labConfigMap();
    const servers = config["citadel:vllm"].servers;
    servers.Chat = servers.chat;
    delete servers.chat;
    expect(verdict(config)).toContain(
      'citadel:vllm.servers.Chat: the name "Chat" is not allowed: a server name is 1-24 lowercase letters, digits or -, starting with a letter (e.g. chat, embed)',
    );
  });
});

describe("the edge values they accept", () => {
  it.each([
    ["image", PINNED],
    ["image", `${PINNED}@sha256:${DIGEST}`],
    ["servers.chat.gpus", [UUID]],
    ["servers.chat.servedModelName", "org/qwen_3.8b-x"],
    ["otlpTracesEndpoint", "grpc://phoenix:4317"],
    ["otlpTracesEndpoint", "https://phoenix.lab/v1/traces"],
  ])("%s: %j", (key, value) => {
    expect(verdict(withKey(at(key), value))).toBe("accepted");
  });
});

describe("the defaults and names a stack gets", () => {
  it("the pinned image, cache, timeouts, reserves and GeForce settings, and each server's own", () => {
    const config = labConfigMap();
    const { servers } = config["citadel:vllm"];
    const chat = servers.chat;
    for (const k of [
      "kind",
      "gpus",
      "gpuMemoryUtilization",
      "kvCacheDtype",
      "memoryLimit",
      "servedModelName",
    ])
      delete chat[k];
    // chat alone: on every GPU it would not leave embed its share.
    config["citadel:vllm"] = { servers: { chat } };
    const vllm = loadLab(config).lab.vllm!;
    expect(vllm).toMatchObject({
      host: "citadel",
      image: PINNED,
      cacheDir: "/srv/models",
      startupTimeoutSeconds: 1800,
      reserveGiB: 2.5,
      baselineGiB: 0.5,
      driverReservedGiB: 0.4,
      geforce: { ncclP2PDisable: true, disableCustomAllReduce: true },
    });
    expect(vllm.servers.chat).toMatchObject({
      kind: "generate",
      gpus: "all",
      gpuMemoryUtilization: 0.9,
      kvCacheDtype: "auto",
      memoryLimit: "32GiB",
      extraArgs: [],
    });
  });

  it("lists servers by name, whatever order the stack file has them in", () => {
    const config = labConfigMap();
    const { chat, embed } = config["citadel:vllm"].servers;
    config["citadel:vllm"].servers = { embed, chat };
    expect(serversOf(loadLab(config).lab.vllm!).map(([n]) => n)).toEqual(["chat", "embed"]);
  });
});
