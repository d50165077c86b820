/** The upstream installer's cache and go.mod generation, and the conformance tier's pure helpers. */
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PINS, type GoChecker } from "../components/pins";
import { cacheRoot, ensureEntry, readEntry } from "../lib/upstream/cache";
import { compareWithLock, copyableDirectives, dropLines, scratchGoMod } from "../lib/upstream/go";
import { compareFreeze, lockPython, pinnedVersions, PYPI_LOCK_FILE } from "../lib/upstream/pypi";
import { cacheVersion, LOCKS, lockDirOf, UPSTREAM } from "../lib/upstream";
import { renderAlloyConfig } from "../components/ladon/render/alloy";
import { overlay } from "./tiers/conformance/lab";
import { durationSeconds } from "./tiers/conformance/live";
import { modelOf } from "./tiers/conformance/vllm";
import { scratchDir } from "./support/scratch";

const scratch = () => scratchDir("citadel-upstream-");

describe("the upstream cache", () => {
  it("lives outside the repo, where CITADEL_UPSTREAM_CACHE or XDG_CACHE_HOME put it", () => {
    expect(cacheRoot({ CITADEL_UPSTREAM_CACHE: "/x/y" })).toBe("/x/y");
    expect(cacheRoot({ XDG_CACHE_HOME: "/c" })).toBe("/c/citadel/upstream");
  });

  it("builds an entry once, then reuses it", async () => {
    const root = scratch();
    let builds = 0;
    const build = async (dir: string) => {
      builds++;
      writeFileSync(path.join(dir, "tool"), "ok");
    };
    const first = await ensureEntry(root, "tool", "v1", build);
    const second = await ensureEntry(root, "tool", "v1", build);
    expect([first.cached, second.cached, builds]).toEqual([false, true, 1]);
    expect(readFileSync(path.join(second.dir, "tool"), "utf8")).toBe("ok");
    expect(readEntry(first.dir)?.version).toBe("v1");
  });

  it("rebuilds a half-built entry (no completion marker) instead of using it", async () => {
    const root = scratch();
    mkdirSync(path.join(root, "tool-v2"), { recursive: true });
    writeFileSync(path.join(root, "tool-v2", "tool"), "half");
    const lines: string[] = [];
    const e = await ensureEntry(
      root,
      "tool",
      "v2",
      async (dir) => writeFileSync(path.join(dir, "tool"), "whole"),
      (l) => lines.push(l),
    );
    expect(e.cached).toBe(false);
    expect(readFileSync(path.join(e.dir, "tool"), "utf8")).toBe("whole");
    expect(lines.join("\n")).toContain("removing a half-built cache entry");
  });

  it("leaves nothing in place when a build fails, so the next run builds again", async () => {
    const root = scratch();
    await expect(
      ensureEntry(root, "tool", "v3", async () => {
        throw new Error("compiler says no");
      }),
    ).rejects.toThrow("compiler says no");
    expect(existsSync(path.join(root, "tool-v3"))).toBe(false);
  });

  it("keys each checker by its release and a hash of its recipe", () => {
    for (const name of UPSTREAM) expect(cacheVersion(name)).toMatch(/^v?[0-9][0-9.]*\+[0-9a-f]{8}$/);
    expect(cacheVersion("prometheus").startsWith("v0.316.0+")).toBe(true);
  });
});

describe("the locks", () => {
  it("holds a lock for every checker, made for the catalog's version", () => {
    for (const name of UPSTREAM) {
      const c = PINS[name].checker;
      const dir = lockDirOf(name);
      if (c.kind === "go") {
        expect(readFileSync(path.join(dir, "module.sum"), "utf8")).toMatch(
          new RegExp(`^${c.module.replace(/\./g, "\\.")} ${c.version.replace(/\./g, "\\.")} h1:`),
        );
        expect(readFileSync(path.join(dir, "go.mod"), "utf8")).toContain(`\t${c.module} ${c.version}\n`);
        expect(readFileSync(path.join(dir, "go.sum"), "utf8").length).toBeGreaterThan(0);
      } else if (c.kind === "pypi") {
        const lock = readFileSync(path.join(dir, PYPI_LOCK_FILE), "utf8");
        expect(pinnedVersions(lock).get(c.package)).toBe(c.version);
        expect(lockPython(lock)).toMatch(/^3\.\d+$/);
        // Every distribution is pinned with its hashes, so `uv pip sync --require-hashes` takes it.
        expect(lock).toContain("--hash=sha256:");
      }
    }
  });

  it("keeps the vLLM lock's overrides", () => {
    const lock = pinnedVersions(readFileSync(path.join(lockDirOf("vllm"), PYPI_LOCK_FILE), "utf8"));
    const c = PINS.vllm.checker;
    if (c.kind !== "pypi") throw new Error("vllm's checker is not from PyPI");
    for (const o of c.overrides ?? []) {
      const [n, v] = o.split("==");
      expect(lock.get(n as string)).toBe(v);
    }
  });

  it("rebuilds a checker whose lock changes: the lock is part of the cache key", () => {
    const copy = scratch();
    cpSync(LOCKS, copy, { recursive: true });
    for (const name of ["prometheus", "vllm"] as const) {
      expect(cacheVersion(name, copy)).toBe(cacheVersion(name));
      const file = path.join(lockDirOf(name, copy), name === "vllm" ? PYPI_LOCK_FILE : "go.sum");
      writeFileSync(file, `${readFileSync(file, "utf8")}\n`);
      expect(cacheVersion(name, copy)).not.toBe(cacheVersion(name));
    }
  });

  it("reads the versions a lock pins, and names every difference from an installed venv", () => {
    const lock = readFileSync(path.join(lockDirOf("phoenix"), PYPI_LOCK_FILE), "utf8");
    const pinned = pinnedVersions(lock);
    expect(pinned.get("arize-phoenix")).toBe("20.26.1");
    expect(compareFreeze(new Map(pinned), pinned)).toEqual([]);
    const drifted = new Map(pinned).set("arize-phoenix", "20.27.0").set("extra-pkg", "1.0");
    expect(compareFreeze(drifted, pinned)).toEqual([
      "arize-phoenix: lock 20.26.1, installed 20.27.0",
      "extra-pkg: installed 1.0, not in the lock",
    ]);
  });

  it("names a Go module built at another version than the lock selects", () => {
    const lock = new Map([
      ["golang.org/x/net", "v0.40.0"],
      ["github.com/a/b", "v1.0.0 => github.com/fork/b v1.2.3"],
    ]);
    expect(compareWithLock(new Map(lock), lock)).toEqual([]);
    expect(compareWithLock(new Map([["golang.org/x/net", "v0.41.0"]]), lock)).toEqual([
      "golang.org/x/net: built v0.41.0, lock v0.40.0",
    ]);
  });
});

describe("the Alloy checker's main", () => {
  it("imports every component the rendered config uses", () => {
    const config = renderAlloyConfig("citadel", "http://loki:3100/loki/api/v1/push");
    const components = [...config.matchAll(/^([a-z_]+(?:\.[a-z_]+)+) "[^"]*" \{/gm)].map(
      (m) => m[1] as string,
    );
    expect(components.length).toBeGreaterThan(3);
    const main = readFileSync(
      path.join(__dirname, "..", "lib", "upstream", "mains", "alloy", "main.go"),
      "utf8",
    );
    for (const name of new Set(components)) {
      expect(main).toContain(`_ "github.com/grafana/alloy/internal/component/${name.replace(/\./g, "/")}"`);
    }
  });

  it("drops each line exactly once, and fails when the module moved", () => {
    expect(dropLines("a\n  b\nc", ["b"], "f.go")).toBe("a\nc");
    expect(() => dropLines("a\nc", ["b"], "f.go")).toThrow('f.go: the line "b" occurs 0 times, not once');
    expect(() => dropLines("b\nb", ["b"], "f.go")).toThrow("occurs 2 times");
  });
});

describe("go.mod of ours", () => {
  const upstream = [
    "module github.com/example/tool/v3",
    "go 1.26.5",
    "require github.com/example/push v0.0.0-2025",
    "replace github.com/a/b => github.com/fork/b v1.2.3 // a fork",
    "replace (",
    "\tgithub.com/c/d => github.com/fork/d v0.1.0",
    "\tgithub.com/example/push => ./pkg/push",
    ")",
    "exclude github.com/bad/mod v1.0.0",
  ].join("\n");

  it("copies replaces and excludes, but not replaces into upstream's own tree", () => {
    expect(copyableDirectives(upstream)).toEqual({
      lines: [
        "replace github.com/a/b => github.com/fork/b v1.2.3",
        "replace github.com/c/d => github.com/fork/d v0.1.0",
        "exclude github.com/bad/mod v1.0.0",
      ],
      local: ["github.com/example/push"],
    });
  });

  it("requires a locally replaced module at the catalog's version, and refuses one it has none for", () => {
    const c: GoChecker = {
      kind: "go",
      module: "github.com/example/tool/v3",
      version: "v3.1.0",
      binaries: { t: "./cmd/t" },
    };
    expect(() => scratchGoMod(c, upstream)).toThrow("replaces github.com/example/push with its own tree");
    const mod = scratchGoMod({ ...c, localReplaces: { "github.com/example/push": "v0.0.0-2025" } }, upstream);
    expect(mod).toContain("\tgithub.com/example/tool/v3 v3.1.0\n\tgithub.com/example/push v0.0.0-2025\n");
    expect(mod).toContain("go 1.26.5");
    expect(mod).not.toContain("./pkg/push");
  });

  it("builds every pinned Go checker's go.mod from its catalog entry", () => {
    for (const pin of Object.values(PINS)) {
      if (pin.checker.kind !== "go") continue;
      expect(scratchGoMod(pin.checker, `module ${pin.checker.module}\ngo 1.26\n`)).toContain(
        `\t${pin.checker.module} ${pin.checker.version}`,
      );
    }
  });
});

describe("conformance helpers", () => {
  it("reads Loki's durations", () => {
    expect(durationSeconds("744h")).toBe(744 * 3600);
    expect(durationSeconds("31d")).toBe(744 * 3600);
    expect(durationSeconds("1h30m")).toBe(5400);
    expect(() => durationSeconds("31 days")).toThrow("not a duration");
  });

  it("overlays the stack's config, appending to lists", () => {
    expect(overlay({ a: { hooks: [1], keep: true } }, { a: { hooks: [2] } })).toEqual({
      a: { hooks: [1, 2], keep: true },
    });
  });

  it("finds vLLM's model positional or as --model", () => {
    expect(modelOf(["Qwen/Qwen3-8B", "--port", "8000"])).toBe("Qwen/Qwen3-8B");
    expect(modelOf(["--model", "a/b"])).toBe("a/b");
    expect(() => modelOf(["--port", "8000"])).toThrow("no model");
  });
});
