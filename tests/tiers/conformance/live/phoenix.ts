/** Phoenix, live: auth, the program's key steps, and a trace sent the way vLLM sends it. */
import { copyFileSync } from "node:fs";
import path from "node:path";
import { phoenixApiKey, phoenixTraceHeaders } from "../../../../components/ladon";
import type { Installed } from "../../../../lib/upstream";
import { venvPython } from "../../../../lib/upstream/pypi";
import type { Ctx } from "../static";
import { withTool, expectOk } from "../static";
import { hostfs, serviceRun } from "../services";
import { base, get, hostNamespace, json } from "./harness";

export async function phoenixChecks(ctx: Ctx): Promise<void> {
  const ph = base(ctx, "phoenix");
  await withTool(ctx, "phoenix", "phoenix", "refuses unauthenticated API and trace requests", async () => {
    for (const [method, p] of [
      ["GET", "/v1/projects"],
      ["POST", "/v1/traces"],
      ["POST", "/graphql"],
    ] as const) {
      const r = get(ctx, `${ph}${p}`, ["-X", method]);
      if (r.status !== 401) throw new Error(`${method} ${p} without credentials -> ${r.status}, not 401`);
    }
  });
  // The program's own key step (rendered for the stack host) against the live Phoenix, from the
  // host's namespace, where Phoenix's published port answers as Docker would publish it.
  let stepOutput = "";
  await withTool(
    ctx,
    "phoenix",
    "phoenix",
    "the key step creates a system API key for vLLM's traces; a second run reuses it",
    async () => {
      const run = phoenixStep(ctx, "ladon-phoenix-trace-key");
      const first = run();
      stepOutput = expectOk(first, "the key step");
      if (!/^changed: created Phoenix system API key vllm-traces$/m.test(stepOutput))
        throw new Error(stepOutput);
      const second = expectOk(run(), "the key step, again");
      if (!/^no changes: /m.test(second)) throw new Error(`a second run changed something:\n${second}`);
      if (phoenixTraceHeaders(second) !== phoenixTraceHeaders(stepOutput))
        throw new Error("the second run printed another key");
    },
  );
  await withTool(
    ctx,
    "phoenix",
    "phoenix",
    "the HADES step creates its project and system API key once; the key reads the project",
    async () => {
      const run = phoenixStep(ctx, "ladon-phoenix-hades");
      const first = expectOk(run(), "the HADES step");
      const project = ctx.lab.config.ladon?.phoenix.hadesProject ?? "hades";
      for (const want of ["created Phoenix system API key hades", `created Phoenix project ${project}`])
        if (!first.includes(`changed: ${want}`)) throw new Error(`no "${want}" in:\n${first}`);
      const second = expectOk(run(), "the HADES step, again");
      if (!/^no changes: /m.test(second)) throw new Error(`a second run changed something:\n${second}`);
      const key = phoenixApiKey(second);
      if (!key || key !== phoenixApiKey(first)) throw new Error("the second run printed another key");
      // From the lab bridge, as HADES would reach Phoenix, with the HADES key as its only credential.
      const body = json<{ data?: { name?: string } }>(ctx, `${base(ctx, "phoenix")}/v1/projects/${project}`, [
        "-H",
        `Authorization: Bearer ${key}`,
      ]);
      if (body.data?.name !== project)
        throw new Error(`GET /v1/projects/${project} with the HADES key answered ${JSON.stringify(body)}`);
    },
  );
  await withTool(
    ctx,
    "phoenix",
    "phoenix",
    "accepts a trace sent the way vLLM sends it, and stores it in vLLM's project",
    async () => {
      if (!ctx.tools.vllm) throw new Error("vLLM is not installed: run npm run upstream -- vllm");
      // In the vLLM container's namespace and root, with its environment (the trace headers as the
      // program derives them from the key step), through vLLM's own exporter.
      const vllm = ctx.lab.containers.find((c) => c.image.startsWith("vllm/vllm-openai:"));
      if (!vllm) throw new Error("the lab has no vLLM container");
      if (!/openinference\.project\.name=vllm\b/.test(vllm.env.OTEL_RESOURCE_ATTRIBUTES ?? ""))
        throw new Error(
          `${vllm.name} does not name its Phoenix project: ${vllm.env.OTEL_RESOURCE_ATTRIBUTES}`,
        );
      const tool = ctx.tools.vllm as Installed;
      copyFileSync(path.join(__dirname, "..", "phoenix_trace.py"), path.join(ctx.dir, "phoenix_trace.py"));
      const { spec } = serviceRun(ctx.dir, vllm, "vllm", tool, {
        env: {
          OTEL_EXPORTER_OTLP_TRACES_HEADERS: phoenixTraceHeaders(stepOutput),
          PHOENIX_URL: `http://${ctx.lab.container("phoenix").name}:6006`,
          PHOENIX_ADMIN_PASSWORD: ctx.lab.secrets.phoenixAdminPassword as string,
          VLLM_ARGV: JSON.stringify(vllm.command),
        },
      });
      if (!("OTEL_EXPORTER_OTLP_TRACES_HEADERS" in vllm.env)) {
        throw new Error(
          "the vLLM container's environment has no OTEL_EXPORTER_OTLP_TRACES_HEADERS for Phoenix's auth",
        );
      }
      spec.argv = [venvPython(tool.dir), "/citadel-check/phoenix_trace.py"];
      spec.binds.push({ src: ctx.dir, dst: "/citadel-check", readOnly: true });
      expectOk(await ctx.sandbox.run(spec, 180_000), "phoenix_trace.py");
    },
  );
}

/**
 * One of the program's Phoenix key steps (rendered for the stack host), run against the live
 * Phoenix from the host's namespace, with the admin password on stdin as the program feeds it.
 */
function phoenixStep(ctx: Ctx, step: string) {
  const host = ctx.lab.container("phoenix").host;
  const script = path.join(ctx.dir, "hostfs", host, "commands", `${step}.sh`);
  return () =>
    ctx.sandbox.inNamespace(
      hostNamespace(ctx, host),
      ["bash", script],
      { CITADEL_ROOT: hostfs(ctx.dir, host) },
      `${ctx.lab.secrets.phoenixAdminPassword}\n`,
    );
}
