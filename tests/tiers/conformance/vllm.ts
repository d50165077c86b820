/**
 * vLLM's own parser and config construction on every vLLM container's exact argv and environment,
 * in the container's sandbox root, with the model's config.json in a Hugging Face cache where the
 * container's HF_HOME points. Fails with vLLM's own message.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ServerKind } from "../../../components/shared/models";
import { METRIC_SOURCES } from "../../../components/ladon";
import type { Installed } from "../../../lib/upstream";
import { venvPython } from "../../../lib/upstream/pypi";
import type { ContainerSpec } from "./lab";
import { hostfs, serviceRun } from "./services";
import { expectOk, withTool, type Ctx } from "./static";

const MODELS = path.join(__dirname, "..", "..", "fixtures", "models");

/** Compute capability by GPU model, for vLLM's platform checks (NVIDIA's CUDA GPUs table). */
export const GPU_CAPABILITY: Readonly<Record<string, string>> = {
  "NVIDIA GeForce RTX 4070 Ti SUPER": "8.9",
  "NVIDIA GeForce RTX 4090": "8.9",
  "NVIDIA GeForce RTX 3090": "8.6",
};

/** `--model X` or the positional model of `vllm serve X`. */
export function modelOf(argv: string[]): string {
  const i = argv.indexOf("--model");
  if (i >= 0 && argv[i + 1]) return argv[i + 1] as string;
  const eq = argv.find((a) => a.startsWith("--model="));
  if (eq) return eq.slice("--model=".length);
  const first = argv[0];
  if (first && !first.startsWith("-")) return first;
  throw new Error(`no model in ${argv.join(" ")}`);
}

/** A Hugging Face hub cache holding only `model`'s config.json, under `hfHome`. */
export function seedHfCache(hfHome: string, model: string): void {
  const source = path.join(MODELS, model, "config.json");
  if (!existsSync(source)) {
    throw new Error(
      `no config.json for ${model} in tests/fixtures/models; add the model's config.json there`,
    );
  }
  const repo = path.join(hfHome, "hub", `models--${model.replace("/", "--")}`);
  const rev = "0000000000000000000000000000000000000000";
  mkdirSync(path.join(repo, "refs"), { recursive: true });
  mkdirSync(path.join(repo, "snapshots", rev), { recursive: true });
  writeFileSync(path.join(repo, "refs", "main"), rev);
  copyFileSync(source, path.join(repo, "snapshots", rev, "config.json"));
}

export async function vllmCheck(
  ctx: Ctx,
  c: ContainerSpec,
  tool: Installed,
): Promise<{ summary: string; metrics: Set<string> }> {
  const host = ctx.lab.config.hosts[c.host];
  const gpus = host?.nvidia?.gpus;
  if (!gpus) throw new Error(`${c.name} runs on ${c.host}, which has no nvidia.gpus`);
  const capability = GPU_CAPABILITY[gpus.model];
  if (!capability)
    throw new Error(`no compute capability known for ${gpus.model} (tests/tiers/conformance/vllm.ts)`);
  const hfHome = c.env.HF_HOME;
  const hfVolume = c.volumes.find((v) => v.containerPath === hfHome);
  if (!hfHome || !hfVolume) throw new Error(`${c.name} has no volume at its HF_HOME (${hfHome})`);
  seedHfCache(path.join(hostfs(ctx.dir, c.host), hfVolume.hostPath), modelOf(c.command));
  const script = path.join(ctx.dir, "vllm_check.py");
  copyFileSync(path.join(__dirname, "vllm_check.py"), script);
  const { spec } = serviceRun(ctx.dir, c, "vllm", tool, {
    argv: [],
    env: {
      HF_HUB_OFFLINE: "1",
      CITADEL_GPU_COUNT: String(gpus.count),
      CITADEL_GPU_NAME: gpus.model,
      CITADEL_GPU_MEMORY_GIB: String(gpus.memoryGiB),
      CITADEL_GPU_CAPABILITY: capability,
    },
  });
  spec.argv = [venvPython(tool.dir), "/citadel-check/vllm_check.py", ...c.command];
  spec.binds.push({ src: ctx.dir, dst: "/citadel-check", readOnly: true });
  const r = await ctx.sandbox.run(spec, 600_000);
  const out = expectOk(r, "vllm_check.py");
  const ok = out.split("\n").find((l) => l.startsWith("OK "));
  if (!ok) throw new Error(out);
  const metrics = out.split("\n").find((l) => l.startsWith("METRICS "));
  return { summary: ok, metrics: new Set(metrics?.slice("METRICS ".length).split(" ") ?? []) };
}

/** What vLLM's ModelConfig resolves for each kind (runner_type, convert_type; config/model.py@v0.34.0). */
const EXPECTED_RUNNER: Readonly<Record<ServerKind, string>> = {
  generate: "runner=generate convert=none",
  embed: "runner=pooling convert=embed",
  rerank: "runner=pooling convert=classify",
};

export async function vllmChecks(ctx: Ctx): Promise<void> {
  const servers = ctx.lab.containers.filter((c) => c.image.startsWith("vllm/vllm-openai:"));
  for (const c of servers) {
    let exported: Set<string> | undefined;
    await withTool(
      ctx,
      "vllm",
      "vllm",
      `${c.name}: vllm serve parses its exact argv and builds its engine config`,
      async () => {
        const checked = await vllmCheck(ctx, c, ctx.tools.vllm as Installed);
        exported = checked.metrics;
        // The runner and adapter vLLM resolved are the ones the server's kind asks for.
        const server = ctx.lab.config.vllm?.servers[c.name.replace(/^vllm-/, "")];
        if (!server) throw new Error(`${c.name} is no server of citadel:vllm.servers`);
        const want = EXPECTED_RUNNER[server.kind];
        if (!checked.summary.includes(want))
          throw new Error(
            `a ${server.kind} server should resolve to ${want}, but vLLM built: ${checked.summary}`,
          );
      },
    );
    await withTool(
      ctx,
      "vllm",
      "vllm",
      `${c.name}: exports every vllm: metric the dashboards and rules use`,
      async () => {
        if (!exported) throw new Error("no engine config to build the metrics from (see the check above)");
        // Histograms register without their _bucket/_sum/_count suffixes; counters carry _total.
        const used = METRIC_SOURCES.find((m) => m.job === "vllm")?.metrics ?? [];
        const missing = used.filter((m) => !exported?.has(m));
        if (missing.length > 0)
          throw new Error(`not exported by vLLM ${ctx.tools.vllm?.version}: ${missing.join(", ")}`);
      },
    );
  }
  // A control: the same check refuses what vLLM refuses, so a pass above means something.
  const first = servers[0];
  if (!first) return;
  await withTool(
    ctx,
    "vllm",
    "vllm",
    "control: --tensor-parallel-size 3 is refused with vLLM's own message",
    async () => {
      const tp = first.command.indexOf("--tensor-parallel-size");
      const bad = { ...first, command: first.command.map((a, i) => (i === tp + 1 ? "3" : a)) };
      const refused = await vllmCheck(ctx, bad, ctx.tools.vllm as Installed).then(
        () => undefined,
        (e: Error) => e.message,
      );
      // On the lab's GPUs vLLM refuses it for the GPU count, else for the heads (32 % 3).
      if (
        !/World size \(3\) is larger than the number of available GPUs|divisible by tensor parallel size \(3\)/.test(
          refused ?? "",
        )
      ) {
        throw new Error(
          `vLLM accepted --tensor-parallel-size 3, or refused it for another reason: ${refused ?? "accepted"}`,
        );
      }
    },
  );
}
