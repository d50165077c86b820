/**
 * vLLM's readiness healthcheck against answers made by vLLM 0.34.0's own models, from the pinned
 * build in the upstream cache: part of the conformance tier (`npm run conformance -- --only jest`),
 * since `npm test` runs on a fresh machine that has not built vLLM.
 */
import { execFile, spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CONTAINER_PORT } from "../../../../components/plan";
import type { SynthResult } from "../../../../lib/synth/harness";
import { venvPython } from "../../../../lib/upstream/pypi";
import { cachedUpstream } from "../../../support/upstream";
import { byName, synthLab } from "../../../support/synth";

let lab: SynthResult;
beforeAll(async () => {
  lab = await synthLab();
});

const raw = (result: SynthResult, server = "chat") =>
  byName(result, `vllm-${server}-container`).rawInputs as Record<string, any>;

describe("the readiness check itself", () => {
  let server: Server;
  let port: number;
  /**
   * What each server's /v1/models answers once loaded, made by vLLM 0.34.0's own models from the
   * registered container's command: one ModelCard with the served name, the model as root and its
   * max length (OpenAIModelRegistry.show_available_models, entrypoints/openai/models/serving.py;
   * ModelList and ModelCard in entrypoints/serve/engine/protocol.py, both @v0.34.0). A server lists
   * only its own model; the fake answers as the server `serving` names.
   */
  const models: Record<string, string> = {};
  let serving = "chat";
  beforeAll(async () => {
    const cards = Object.fromEntries(
      ["chat", "embed"].map((which) => {
        const command = raw(lab, which).command as string[];
        const after = (flag: string) => command[command.indexOf(flag) + 1];
        return [which, [after("--served-model-name"), command[0], Number(after("--max-model-len"))]];
      }),
    );
    const made = spawnSync(
      venvPython(cachedUpstream("vllm")),
      [
        "-c",
        "import json, sys\n" +
          "from vllm.entrypoints.serve.engine.protocol import ModelCard, ModelList, ModelPermission\n" +
          "cards = json.loads(sys.argv[1])\n" +
          "print(json.dumps({k: ModelList(data=[ModelCard(id=i, root=r, max_model_len=n, permission=[ModelPermission()])]).model_dump_json() for k, (i, r, n) in cards.items()}))",
        JSON.stringify(cards),
      ],
      { encoding: "utf8" },
    );
    if (made.status !== 0) throw new Error(`vLLM's ModelList could not be built: ${made.stderr}`);
    Object.assign(models, JSON.parse(made.stdout));
    // Answers as vLLM does; /v1/embeddings only while `embeds`.
    server = createServer((req, res) => {
      if (req.headers.authorization !== "Bearer right-key") {
        res.writeHead(401).end("{}");
        return;
      }
      const json = (body: string) => res.writeHead(200, { "content-type": "application/json" }).end(body);
      if (req.url === "/v1/models") json(models[serving] ?? '{"object":"list","data":[]}');
      else if (req.url === "/v1/embeddings" && req.method === "POST" && embeds)
        json(JSON.stringify({ data: [{ embedding: [0.1, 0.2, 0.3] }] }));
      else res.writeHead(404).end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  let embeds = true;
  /** Runs a server's healthcheck python against the loopback server; resolves to its exit code. */
  const check = (key: string, which = "chat", answering = which) =>
    new Promise<number>((resolve) => {
      serving = answering;
      const [, python, flag, script] = raw(lab, which).healthcheck.tests as string[];
      const local = (script as string).replace(`127.0.0.1:${CONTAINER_PORT}`, `127.0.0.1:${port}`);
      const env = { VLLM_API_KEY: key, PATH: "/usr/bin:/bin" };
      execFile(python as string, [flag as string, local], { env }, (err) =>
        resolve(err ? ((err.code as number) ?? 1) : 0),
      );
    });

  it("passes when the served model is listed for the key", async () => {
    expect(await check("right-key")).toBe(0);
  });

  it("fails while the server answers but lists another model than its own, or none", async () => {
    // Each healthcheck against the other server's answer (a port mix-up), then an empty list.
    expect(await check("right-key", "chat", "embed")).not.toBe(0);
    expect(await check("right-key", "embed", "chat")).not.toBe(0);
    expect(await check("right-key", "embed", "none")).not.toBe(0);
    expect(await check("right-key", "embed")).toBe(0);
  });

  it("fails when the key is refused", async () => {
    expect(await check("wrong-key")).not.toBe(0);
  });

  it("passes for the embed server only while /v1/embeddings answers with a vector", async () => {
    embeds = true;
    expect(await check("right-key", "embed")).toBe(0);
    embeds = false;
    expect(await check("right-key", "embed")).not.toBe(0);
    // The chat server's check asks no embedding of it.
    expect(await check("right-key")).toBe(0);
    embeds = true;
  });
});
