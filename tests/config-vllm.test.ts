/**
 * vLLM's config checks (components/config/vllm.ts) as an operator meets them: each value a check
 * refuses, refused at its own key with its own message, the edge values it accepts, and the
 * defaults. Pure and fast (no synthesis), from the committed stack file with one key changed.
 */
import { parse } from "yaml";
import { servedModelName, serversOf, vllmContainer } from "../components/config/vllm";
import { imageOf, PINS } from "../components/pins";
import { MODEL_CATALOG } from "../components/shared/models";
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
    ["cacheDir", "/srv/models x", "must be an absolute path"],
    ["cacheDir", "x/srv/models", "must be an absolute path"],
    ["servers.chat.model", "a/b/c", "must be a Hugging Face model id, org/name"],
    ["otlpTracesEndpoint", "xgrpc://phoenix:4317", "must be a grpc:// or http(s):// URL"],
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

describe("and refuse too, at the key", () => {
  it.each([
    ["servers.chat.gpus", []],
    ["servers.chat.tensorParallelSize", 0],
    ["servers.chat.extraArgs", [""]],
    ["reserveGiB", -1],
    ["reserveGiB", 65],
    ["baselineGiB", -0.1],
    ["baselineGiB", 17],
    ["driverReservedGiB", -0.1],
    ["driverReservedGiB", 17],
  ])("%s: %j", (key, value) => {
    expect(refusals(at(key), value)).toHaveLength(1);
  });

  it("says fp8's new name only for fp8", () => {
    const messages = refusals(at("servers.chat.quantization"), "int4");
    expect(messages).toHaveLength(1);
    expect(messages[0]).not.toContain("fp8_per_tensor, the name");
  });

  it("refuses a server name with anything after its letters", () => {
    const config = labConfigMap();
    const servers = config["citadel:vllm"].servers;
    servers["chat!"] = servers.chat;
    delete servers.chat;
    expect(verdict(config)).toContain(
      'citadel:vllm.servers.chat!: the name "chat!" is not allowed: a server name is 1-24 lowercase letters, digits or -, starting with a letter (e.g. chat, embed)',
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
    ["reserveGiB", 1.5],
    ["baselineGiB", 0.6],
    ["driverReservedGiB", 0.3],
    ["servers.chat.extraArgs", ["--enable-chunked-prefill"]],
  ])("%s: %j", (key, value) => {
    expect(verdict(withKey(at(key), value))).toBe("accepted");
  });
});

describe("the edge values they accept, across keys", () => {
  /** Facts of a model the catalog does not know by its id: Qwen3-Embedding-0.6B's, from the catalog. */
  const FACTS = MODEL_CATALOG["Qwen/Qwen3-Embedding-0.6B"];

  it("one server on both GPUs, tensor-parallel over two", () => {
    const config = withKey(at("servers.embed"), undefined);
    withKey(at("servers.chat.gpus"), [0, 1], config);
    expect(verdict(withKey(at("servers.chat.tensorParallelSize"), 2, config))).toBe("accepted");
  });

  it.each([4, 8, 16, 32])(
    "a model the catalog does not know, described by its facts with %i-bit weights",
    (bits) => {
      const config = withKey(at("servers.embed.model"), "acme/embed-0.6b");
      const facts = { ...FACTS, weightBits: bits, kinds: ["embed", "rerank"] };
      expect(verdict(withKey(at("servers.embed.modelFacts"), facts, config))).toBe("accepted");
    },
  );
});

describe("a server's port and the monitoring range", () => {
  it.each([9900, 9950, 9999])("refuses %i, inside 9900-9999, which the LadonStack keeps", (port) => {
    expect(refusals(at("servers.chat.port"), port)).toHaveLength(1);
  });

  it.each([9899, 10000])("takes %i, just outside it", (port) => {
    expect(verdict(withKey(at("servers.chat.port"), port))).toBe("accepted");
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

  it("names each server's container vllm-<name>, and serves a server under its model's id unless it names another", () => {
    expect(vllmContainer("chat")).toBe("vllm-chat");
    expect(servedModelName({ model: "Qwen/Qwen3-8B" })).toBe("Qwen/Qwen3-8B");
    expect(servedModelName({ model: "Qwen/Qwen3-8B", servedModelName: "qwen3-8b" })).toBe("qwen3-8b");
  });

  it("takes reserveGiB as the section's own, also in a section written for one server, which it migrates", () => {
    expect(loadLab(withKey(at("reserveGiB"), 1.5)).lab.vllm!.reserveGiB).toBe(1.5);
    const config = labConfigMap();
    config["citadel:vllm"] = { model: "Qwen/Qwen3-8B", maxModelLen: 32768, reserveGiB: 2 };
    const problems = verdict(config);
    expect(problems).toHaveLength(1);
    const [message] = problems as string[];
    expect(message).toMatch(
      /^citadel:vllm: model, maxModelLen now belong to one server under citadel:vllm\.servers\.<name>/,
    );
    expect(message).toContain("reserveGiB: 2\n");
    expect(message).not.toMatch(/servers:[\s\S]*reserveGiB/);
  });

  describe("a section written for one server", () => {
    /** The problem's message and the section it says to write, parsed from the message's YAML. */
    const migration = (section: Record<string, unknown>) => {
      const config = labConfigMap();
      config["citadel:vllm"] = section;
      const problems = verdict(config);
      expect(problems).toHaveLength(1);
      const message = (problems as string[])[0]!;
      const yaml = message.slice(
        message.indexOf("the section then reads:\n") + 24,
        message.lastIndexOf("\n    The"),
      );
      return { message, config, section: parse(yaml.replace(/^ {6}/gm, ""))["citadel:vllm"] };
    };

    it("is migrated to a server named after its kind, on port 8000 unless it had one, the section's keys kept", () => {
      const embed = migration({
        host: "citadel",
        cacheDir: "/srv/models",
        model: "Qwen/Qwen3-Embedding-0.6B",
        kind: "embed",
        gpus: [1],
        maxModelLen: 8192,
      });
      expect(embed.message).toMatch(/^citadel:vllm: model, kind, gpus, maxModelLen now belong to one server/);
      expect(embed.message).toMatch(/The server's container becomes vllm-embed: /);
      expect(embed.section).toEqual({
        host: "citadel",
        cacheDir: "/srv/models",
        servers: {
          embed: {
            model: "Qwen/Qwen3-Embedding-0.6B",
            kind: "embed",
            gpus: [1],
            maxModelLen: 8192,
            port: 8000,
          },
        },
      });
      const chat = migration({ model: "Qwen/Qwen3-8B", port: 8100 });
      expect(chat.section).toEqual({ servers: { chat: { model: "Qwen/Qwen3-8B", port: 8100 } } });
      // The whole message, as the operator reads it under the file's name.
      expect(chat.message).toBe(
        'citadel:vllm: model, port now belong to one server under citadel:vllm.servers.<name>, so that several models can run side by side (README, "vLLM servers"). Move them there; the section then reads:\n' +
          "      citadel:vllm:\n        servers:\n          chat:\n            model: Qwen/Qwen3-8B\n            port: 8100\n    " +
          "The server's container becomes vllm-chat: the first pulumi up after the move replaces the old vllm container once (the model cache is kept).",
      );
    });

    it("keeps the servers already under servers, and the section it prints is accepted as written", () => {
      const { embed } = labConfigMap()["citadel:vllm"].servers;
      const mixed = migration({
        host: "citadel",
        servers: { embed },
        model: "Qwen/Qwen3-8B",
        gpus: [0],
        maxModelLen: 32768,
        quantization: "fp8_per_tensor",
        kvCacheDtype: "fp8",
      });
      expect(Object.keys(mixed.section.servers).sort()).toEqual(["chat", "embed"]);
      expect(mixed.section.servers.embed).toEqual(embed);
      mixed.config["citadel:vllm"] = mixed.section;
      expect(verdict(mixed.config)).toBe("accepted");
    });

    it("is not one when nothing in it is a server's key, or when it is no mapping", () => {
      const config = labConfigMap();
      config["citadel:vllm"] = "Qwen/Qwen3-8B";
      expect(verdict(config)).toEqual([
        expect.stringMatching(/^citadel:vllm: Invalid input: expected object/),
      ]);
    });
  });

  it("lists servers by name, whatever order the stack file has them in", () => {
    const config = labConfigMap();
    const { chat, embed } = config["citadel:vllm"].servers;
    config["citadel:vllm"].servers = { embed, chat };
    expect(serversOf(loadLab(config).lab.vllm!).map(([n]) => n)).toEqual(["chat", "embed"]);
    // Every order of three names: a comparator that ignores its arguments passes for some orders.
    const vllm = loadLab(labConfigMap()).lab.vllm!;
    const server = vllm.servers.chat!;
    for (const order of [
      ["a", "b", "c"],
      ["a", "c", "b"],
      ["b", "a", "c"],
      ["b", "c", "a"],
      ["c", "a", "b"],
      ["c", "b", "a"],
    ]) {
      const servers = Object.fromEntries(order.map((n) => [n, server]));
      expect(serversOf({ ...vllm, servers }).map(([n]) => n)).toEqual(["a", "b", "c"]);
    }
  });
});
