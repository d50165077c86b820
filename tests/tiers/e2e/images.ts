/**
 * Container images for the e2e guest's Docker engine, with no registry: a root filesystem tarball
 * built on the build machine from the pinned upstream binary that the conformance tier already
 * built (~/.cache/citadel/upstream, lib/upstream/cache.ts), laid out as the upstream image is
 * (components/pins.ts `image`: entrypoint, user, own paths; the rest below, each cited at its tag),
 * with busybox from Debian's `busybox-static` where the upstream image is busybox-based (its
 * healthchecks run busybox's wget and sh). The guest turns it into an image with `docker import`
 * and `--change` lines for ENTRYPOINT, USER, WORKDIR and CMD, under the very reference the program
 * registers (`prom/prometheus:v3.16.0`), so nothing is ever pulled.
 *
 * Tarballs are cached in `<cache>/images/<name>-<key>.tar`, keyed by a hash of the binaries,
 * busybox and the recipe, built under `.partial` and renamed into place.
 */
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { PINS, type PinName } from "../../../components/pins";
import { cacheRoot, entryDir, readEntry } from "../../../lib/upstream/cache";
import { cacheVersion, entryName } from "../../../lib/upstream";

/** Bump when the way a tarball is laid out changes (part of every key). */
const RECIPE_VERSION = "e2e-image 1";
const BUSYBOX = "/bin/busybox";
const NOBODY = 65534;

/** What the upstream Dockerfile adds beyond pins.ts's image facts, read at the pinned tag. */
interface Layout {
  /** Directories the image creates, with their owner uid and mode. */
  dirs: Readonly<Record<string, { uid: number; mode: number }>>;
  workdir?: string;
  cmd?: readonly string[];
  /** The Dockerfile, at the tag. */
  source: string;
}

/**
 * The images the e2e tier runs. All use quay.io/prometheus/busybox as their base (busybox in
 * /bin, `nobody` = 65534 in /etc/passwd) and `USER nobody`.
 */
export const LAYOUTS: Partial<Record<PinName, Layout>> = {
  // Dockerfile@v0.316.0 (Prometheus v3.16.0): COPY prometheus, promtool to /bin; WORKDIR
  // /prometheus; `chown -R nobody:nobody /etc/prometheus /prometheus && chmod g+w /prometheus`;
  // USER nobody; ENTRYPOINT ["/bin/prometheus"]; CMD --config.file=/etc/prometheus/prometheus.yml
  // --storage.tsdb.path=/prometheus. (The example prometheus.yml it copies is left out: the lab
  // mounts its own /etc/prometheus.)
  prometheus: {
    dirs: { "/etc/prometheus": { uid: NOBODY, mode: 0o755 }, "/prometheus": { uid: NOBODY, mode: 0o775 } },
    workdir: "/prometheus",
    cmd: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"],
    source: "github.com/prometheus/prometheus Dockerfile@v0.316.0",
  },
  // Dockerfile@v0.35.0: COPY amtool, alertmanager to /bin; `mkdir -p /alertmanager && chown -R
  // nobody:nobody /etc/alertmanager /alertmanager && chmod -R g+w /alertmanager`; USER nobody;
  // WORKDIR /alertmanager; ENTRYPOINT ["/bin/alertmanager"]; CMD
  // --config.file=/etc/alertmanager/alertmanager.yml --storage.path=/alertmanager. (Its example
  // alertmanager.yml is left out: the lab mounts its own /etc/alertmanager.)
  alertmanager: {
    dirs: {
      "/etc/alertmanager": { uid: NOBODY, mode: 0o755 },
      "/alertmanager": { uid: NOBODY, mode: 0o775 },
    },
    workdir: "/alertmanager",
    cmd: ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"],
    source: "github.com/prometheus/alertmanager Dockerfile@v0.35.0",
  },
  // Dockerfile@v1.12.1: COPY node_exporter /bin/node_exporter; USER nobody; ENTRYPOINT
  // ["/bin/node_exporter"]; no CMD, no WORKDIR.
  nodeExporter: {
    dirs: {},
    source: "github.com/prometheus/node_exporter Dockerfile@v1.12.1",
  },
};

export interface BuiltImage {
  /** The pin whose upstream binaries it holds; none for the probe. */
  pin?: PinName;
  /** The reference the program registers: `prom/prometheus:v3.16.0`. */
  ref: string;
  tar: string;
  key: string;
  /** `docker import --change` lines. */
  changes: string[];
  cached: boolean;
  seconds: number;
  /** Where each binary came from. */
  binaries: string[];
}

/** The busybox-based probe image: busybox alone, for reaching ports from the lab's bridge. */
export const PROBE_REF = "citadel-e2e/probe:busybox";

function sha(files: string[], extra: string): string {
  const h = createHash("sha256").update(extra);
  for (const f of files) h.update(f).update(readFileSync(f));
  return h.digest("hex").slice(0, 16);
}

export function requireBusybox(): void {
  const r = spawnSync("dpkg-query", ["-W", "-f=${db:Status-Status}", "busybox-static"], { encoding: "utf8" });
  if (r.stdout.trim() !== "installed" || !existsSync(BUSYBOX)) {
    throw new Error(
      "the e2e images need a static busybox (their healthchecks run busybox's wget and sh, as the upstream busybox-based images do); install with: apt-get install -y busybox-static",
    );
  }
}

/** The upstream binaries of `pin` that its image holds (pins.ts ownPaths), from the upstream cache. */
function upstreamBinaries(pin: PinName): { inImage: string; file: string }[] {
  const dir = entryDir(cacheRoot(), entryName(pin), cacheVersion(pin));
  if (!readEntry(dir)) {
    throw new Error(
      `the upstream build of ${pin} is not in the cache (${dir}); build it with: npm run upstream -- ${pin}`,
    );
  }
  return PINS[pin].image.ownPaths.map((p) => {
    const file = path.join(dir, "bin", path.basename(p));
    if (!existsSync(file)) throw new Error(`${file} is missing from the upstream build of ${pin}`);
    return { inImage: p, file };
  });
}

/** Lays out busybox's root (as quay.io/prometheus/busybox has it) in `root`. */
function busyboxRoot(root: string): void {
  for (const d of ["bin", "etc", "home", "root", "var", "usr"])
    mkdirSync(path.join(root, d), { recursive: true });
  mkdirSync(path.join(root, "tmp"), { mode: 0o1777 });
  chmodSync(path.join(root, "tmp"), 0o1777);
  copyFileSync(BUSYBOX, path.join(root, "bin", "busybox"));
  chmodSync(path.join(root, "bin", "busybox"), 0o755);
  const applets = spawnSync(BUSYBOX, ["--list"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
  for (const a of applets) {
    if (a !== "busybox" && /^[a-z0-9_.[-]+$/.test(a)) symlinkSync("busybox", path.join(root, "bin", a));
  }
  writeFileSync(
    path.join(root, "etc", "passwd"),
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
  );
  writeFileSync(path.join(root, "etc", "group"), "root:x:0:\nnobody:x:65534:\n");
}

function tarball(root: string, out: string): void {
  const r = spawnSync("tar", ["--numeric-owner", "--sort=name", "--mtime=@0", "-C", root, "-cf", out, "."], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`tar of ${root} failed: ${r.stderr}`);
}

function cached(
  cache: string,
  name: string,
  key: string,
  make: (root: string) => void,
): { tar: string; cached: boolean } {
  const dir = path.join(cache, "images");
  mkdirSync(dir, { recursive: true });
  const tar = path.join(dir, `${name}-${key}.tar`);
  if (existsSync(tar)) return { tar, cached: true };
  const partial = `${tar}.partial`;
  const root = `${partial}.root`;
  rmSync(partial, { force: true });
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  try {
    make(root);
    tarball(root, partial);
    renameSync(partial, tar);
  } finally {
    rmSync(root, { recursive: true, force: true });
    rmSync(partial, { force: true });
  }
  return { tar, cached: false };
}

/** Builds (or reuses) the image of `pin` for the reference `ref` the program registers. */
export function buildImage(cache: string, pin: PinName, ref: string): BuiltImage {
  const layout = LAYOUTS[pin];
  if (!layout)
    throw new Error(`the e2e tier has no image layout for ${pin} (tests/tiers/e2e/images.ts LAYOUTS)`);
  requireBusybox();
  const started = Date.now();
  const facts = PINS[pin].image;
  const bins = upstreamBinaries(pin);
  const recipe = JSON.stringify({ RECIPE_VERSION, facts, layout, bins: bins.map((b) => b.inImage) });
  const key = sha([...bins.map((b) => b.file), BUSYBOX], recipe);
  const made = cached(cache, entryName(pin), key, (root) => {
    busyboxRoot(root);
    for (const b of bins) {
      const at = path.join(root, b.inImage);
      mkdirSync(path.dirname(at), { recursive: true });
      copyFileSync(b.file, at);
      chmodSync(at, 0o755);
    }
    for (const [d, { uid, mode }] of Object.entries(layout.dirs)) {
      const at = path.join(root, d);
      mkdirSync(at, { recursive: true });
      chownSync(at, uid, uid);
      chmodSync(at, mode);
    }
  });
  const changes = [
    `ENTRYPOINT ${JSON.stringify(facts.entrypoint)}`,
    `USER ${facts.user}`,
    ...(layout.workdir ? [`WORKDIR ${layout.workdir}`] : []),
    ...(layout.cmd ? [`CMD ${JSON.stringify(layout.cmd)}`] : []),
    `LABEL org.hana-x.citadel.e2e-image=${key}`,
  ];
  return {
    pin,
    ref,
    tar: made.tar,
    key,
    changes,
    cached: made.cached,
    seconds: (Date.now() - started) / 1000,
    binaries: bins.map((b) => `${b.inImage} <- ${b.file}`),
  };
}

/** The probe image: busybox only (wget, nc, sh), for checks from the lab's bridge network. */
export function buildProbe(cache: string): BuiltImage {
  requireBusybox();
  const started = Date.now();
  const key = sha([BUSYBOX], `${RECIPE_VERSION} probe`);
  const made = cached(cache, "probe", key, busyboxRoot);
  return {
    ref: PROBE_REF,
    tar: made.tar,
    key,
    changes: [`CMD ["sh"]`, `LABEL org.hana-x.citadel.e2e-image=${key}`],
    cached: made.cached,
    seconds: (Date.now() - started) / 1000,
    binaries: [],
  };
}
