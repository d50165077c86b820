/**
 * The commands README.md and docs/ show run as written on the shipped stack files. Every `npm
 * start` and `npm run diff|assess|readme` line in a ```sh block is run; only what the machine
 * cannot have is substituted, and said here: a placeholder stack file (`old.yaml`, `new.yaml`)
 * becomes a copy of Pulumi.citadel.yaml and a changed one, `origin/main` becomes HEAD (a
 * checkout made by `git worktree` has no remote), `--out` goes to a temporary directory, and
 * assess, which needs the lab's Prometheus, is pointed at a closed port: it must get past its
 * flags and both stack files and fail only there (exit 3, never 2).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { docFiles } from "../tools/readme";

const REPO = path.join(__dirname, "..");
const TOOLS: Record<string, string> = {
  start: "tools/synth.ts",
  diff: "tools/diff.ts",
  assess: "tools/assess/index.ts",
  readme: "tools/readme.ts",
};

/** `npm start …` and `npm run <tool> …` lines of every ```sh block, comments dropped, by page. */
export function docCommands(): { page: string; line: string }[] {
  const out: { page: string; line: string }[] = [];
  for (const file of docFiles()) {
    const page = path.relative(REPO, file);
    let inSh = false;
    for (const raw of readFileSync(file, "utf8").split("\n")) {
      if (/^\s*```/.test(raw)) {
        inSh = !inSh && /^\s*```(sh|bash)\s*$/.test(raw);
        continue;
      }
      if (!inSh) continue;
      for (const part of raw.replace(/\s#.*$/, "").split("&&")) {
        const line = part.trim();
        if (/^npm (start|run (diff|assess|readme))\b/.test(line)) out.push({ page, line });
      }
    }
  }
  return out;
}

const tmp = mkdtempSync(path.join(tmpdir(), "citadel-doc-commands-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The placeholder stack files: the shipped one, and one with a longer chat context. */
function placeholders(): Record<string, string> {
  const shipped = readFileSync(path.join(REPO, "Pulumi.citadel.yaml"), "utf8");
  const changed = shipped.replace("maxModelLen: 32768", "maxModelLen: 40960");
  expect(changed).not.toBe(shipped);
  const files: Record<string, string> = {};
  for (const [name, text] of [
    ["old.yaml", shipped],
    ["new.yaml", changed],
  ] as const) {
    const dir = path.join(tmp, name.replace(".yaml", ""));
    mkdirSync(dir, { recursive: true });
    files[name] = path.join(dir, "Pulumi.citadel.yaml");
    writeFileSync(files[name], text);
  }
  return files;
}

/** The argv a documented line runs, with the substitutions above. */
function argvOf(line: string, files: Record<string, string>): { tool: string; args: string[] } {
  const words = line.split(/\s+/);
  const tool = words[1] === "start" ? "start" : (words[2] as string);
  const args = words.slice(words.indexOf("--") >= 0 ? words.indexOf("--") + 1 : words.length);
  const mapped = args.map((a, i) => {
    if (files[a]) return files[a];
    if (a === "origin/main" && args[i - 1] === "--base") return "HEAD";
    if (args[i - 1] === "--out" || args[i - 1] === "--chart" || args[i - 1] === "--json")
      return path.join(tmp, path.basename(a));
    return a;
  });
  if (tool === "start" && !mapped.includes("--out")) mapped.push("--out", path.join(tmp, "out"));
  if (tool === "assess")
    mapped.push("--prometheus", "http://127.0.0.1:9", "--chart", path.join(tmp, "assess.png"));
  return { tool, args: mapped };
}

describe("the commands the docs show", () => {
  const commands = docCommands();

  it("finds the documented commands (start, diff, assess)", () => {
    const tools = new Set(
      commands.map((c) => (c.line.split(/\s+/)[1] === "start" ? "start" : c.line.split(/\s+/)[2])),
    );
    expect([...tools].sort()).toEqual(expect.arrayContaining(["assess", "diff", "start"]));
  });

  // One run per distinct command: the same line on two pages runs once.
  const distinct = [...new Map(commands.map((c) => [c.line, c])).values()];
  it.each(distinct.map((c) => [c.line, c.page] as const))("%s (%s) runs as written", (line) => {
    const { tool, args } = argvOf(line, placeholders());
    const r = spawnSync(process.execPath, ["--import", "tsx", TOOLS[tool] as string, ...args], {
      cwd: REPO,
      encoding: "utf8",
      timeout: 120_000,
    });
    const said = `${line}\nexit ${r.status}\n${r.stderr}`;
    if (tool === "assess") {
      // Past the flags and the stack files (2 would be a usage or config error), stopped at Prometheus.
      expect({ said, status: r.status }).toEqual({ said, status: 3 });
      expect(r.stderr).toContain("127.0.0.1:9");
    } else if (tool === "diff") {
      expect({ said, ok: r.status === 0 || r.status === 1 }).toEqual({ said, ok: true });
    } else {
      expect({ said, status: r.status }).toEqual({ said, status: 0 });
    }
  });
});
