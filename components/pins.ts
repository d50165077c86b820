/**
 * The one catalog of pins: every image the lab runs, and the upstream release the conformance
 * tier (`lib/upstream`, `npm run conformance`) builds from the registries to check what the
 * program renders for that image. Bumping an image bumps its checker: `tests/pins.test.ts` fails
 * when an image's release and its checker's release disagree.
 *
 * How a pin is chosen: the newest stable release the registries confirm, and whose checker builds
 * from them. The Go module proxy these machines reach serves only some versions of a module, and
 * of its dependencies (the rest answer 403 "not available"), so "confirmed" means `go build` of the
 * checker at that version succeeds here. Where a newer release exists but cannot be built, its
 * entry says so in `newer`.
 *
 * Pure data: no Pulumi, no I/O.
 */

/** A Go program built from its module, from a go.mod of ours (see lib/upstream/go.ts). */
export interface GoChecker {
  kind: "go";
  module: string;
  /** The module version (Prometheus tags its Go module v0.3XX.Y for release v3.XX.Y). */
  version: string;
  /**
   * Binary name -> package path inside the module, or `mains/<dir>` for a main package of ours
   * in lib/upstream/mains/ that calls the module's own command (where upstream's main lives in
   * a module the proxy does not serve).
   */
  binaries: Readonly<Record<string, string>>;
  /** Build tags, as upstream's release build sets them where they matter to us. @default none */
  tags?: readonly string[];
  /** cgo on (only where a feature we check needs it). @default false */
  cgo?: boolean;
  /** `-X` variable that takes the release version, so `--version` prints it. @default none */
  versionVar?: string;
  /**
   * Modules the upstream go.mod replaces with a directory of its own tree (`=> ./x`), which a
   * go.mod of ours cannot copy: each is required instead at the version given here, the same
   * commit as the release. @default none
   */
  localReplaces?: Readonly<Record<string, string>>;
  /**
   * Build the `mains/<dir>` binaries inside a copy of the module (at `citadel/<dir>`), so that
   * they may import its internal packages, after these edits to the copy. Each edit must match
   * the module exactly, or the build fails naming it (a bump that moves the code shows up).
   * @default none
   */
  inModule?: {
    /** File of the module -> lines removed from it, each of which must occur exactly once. */
    dropLines?: Readonly<Record<string, readonly string[]>>;
    /** File of the module -> a file of ours (lib/upstream/…) that replaces it. */
    replaceFiles?: Readonly<Record<string, string>>;
  };
  /**
   * Files a release build generates before `go build` (web UI bundles that `//go:embed` needs)
   * and the Go module therefore lacks. The build then runs from a copy of the module with an
   * empty file at each path: the checks never open a web UI. @default none
   */
  generated?: readonly string[];
}

/** A Python distribution installed from PyPI into a virtualenv of its own. */
export interface PypiChecker {
  kind: "pypi";
  package: string;
  version: string;
  /**
   * Requirements that replace the package's own, for dependencies whose demanded version the
   * registry does not serve; each says why beside it. Installed with uv's `--override`.
   * @default none
   */
  overrides?: readonly string[];
  /**
   * Build a stand-in for the NVIDIA driver's libcuda.so.1: every `cu*` driver function the
   * package's native modules link against, each answering CUDA_ERROR_NOT_SUPPORTED, so that they
   * load on a machine with no driver. Nothing here calls one: no GPU work runs. @default false
   */
  cudaDriverStub?: boolean;
}

/** No upstream program can run this image's code here; `why` says what checks it instead. */
export interface NoChecker {
  kind: "none";
  why: string;
}

export type Checker = GoChecker | PypiChecker | NoChecker;

/** What an image contains and runs, read from the Dockerfile that builds it, at the pinned tag. */
export interface ImageFacts {
  /** Its ENTRYPOINT; the container's `command` is appended to it. */
  entrypoint: readonly string[];
  /** Its USER, as a uid where the Dockerfile names one ("0" when it sets none). */
  user: string;
  /** Paths its own program needs at run time: a mount at one of them, or above one, hides it. */
  ownPaths: readonly string[];
  /** What a Docker healthcheck can run in it, besides the program itself. */
  healthTools: readonly ("wget" | "bash" | "sh" | "python3")[];
  /** The program's own health command, where it has one. @default none */
  healthCommand?: readonly string[];
  /** The Dockerfile these facts were read from, at the tag. */
  source: string;
}

export interface Pin {
  /**
   * The oldest NVIDIA driver branch the image's CUDA runs on, for GPU images. @default none
   */
  minDriverBranch?: number;
  /** Image repository. */
  repository: string;
  /** Image tag. */
  tag: string;
  /** Architectures the image is published for. */
  arches: readonly ("amd64" | "arm64")[];
  /** Where the tag and its facts were confirmed. */
  source: string;
  checker: Checker;
  image: ImageFacts;
  /** A newer release that exists but whose checker the registries here cannot build. @default none */
  newer?: string;
}

export type PinName =
  | "vllm"
  | "grafana"
  | "prometheus"
  | "alertmanager"
  | "loki"
  | "alloy"
  | "phoenix"
  | "nodeExporter"
  | "gpuExporter"
  | "cadvisor";

export const PINS: Readonly<Record<PinName, Pin>> = {
  vllm: {
    repository: "vllm/vllm-openai",
    tag: "v0.34.0",
    arches: ["amd64", "arm64"],
    source: "PyPI vllm 0.34.0 (the newest release); docker/Dockerfile (vllm-openai target)",
    // CUDA 13: the vllm 0.34.0 wheel's METADATA requires torch==2.14.0 and
    // nvidia-cutlass-dsl[cu13]; docs/getting_started/installation/gpu.cuda.inc.md@v0.33.0: "CUDA 13
    // requires an R580 or newer driver" (compatibility mode for older branches is for datacenter
    // GPUs only).
    minDriverBranch: 580,
    checker: {
      kind: "pypi",
      package: "vllm",
      version: "0.34.0",
      // certifi needs no override any more: vllm 0.34.0 requires certifi>=2026.10.19 (its
      // METADATA), and PyPI now serves 2026.10.19.post1.
      overrides: [
        // vllm 0.34.0 requires flashinfer-python==0.7.3, which PyPI here does not serve (0.7.2.post1
        // and 0.7.4 are). FlashInfer's kernels run on a GPU only; parsing and config construction
        // never call them.
        "flashinfer-python==0.7.4",
        // flashinfer-python requires cuda-python unpinned, and a resolver left alone pairs
        // cuda-bindings 13.5.0 (torch's) with cuda-python 12.6.2.post1, a wheel that ships its own
        // cuda/bindings/ over cuda-bindings' files: vLLM then fails with "module
        // 'cuda.bindings.runtime' has no attribute 'cudaLibrary_t'" (issue 25). cuda-python
        // 13.4.4 requires cuda-bindings 13.4.4, which torch 2.14.0 accepts.
        "cuda-python==13.4.4",
      ],
      // vllm/_C_stable_libtorch*.so links libcuda.so.1 (vllm/platforms/cuda.py imports it).
      cudaDriverStub: true,
    },
    image: {
      entrypoint: ["vllm", "serve"],
      user: "0",
      ownPaths: ["/usr/local/lib/python3.12/dist-packages", "/vllm-workspace"],
      healthTools: ["python3", "bash", "sh"],
      source: "docker/Dockerfile@v0.33.0 (vllm-openai target); the v0.34.0 tag's commit is not readable here",
    },
  },
  grafana: {
    repository: "grafana/grafana",
    tag: "13.2.3",
    arches: ["amd64", "arm64"],
    source: "npm @grafana/data 13.2.3 (published with each Grafana release, 2026-09-29)",
    checker: {
      kind: "none",
      why: "Grafana's Go module is not served by the proxy; dashboards are built with @grafana/grafana-foundation-sdk and every query in them runs against the live Prometheus and Loki",
    },
    image: {
      entrypoint: ["/run.sh"],
      user: "472",
      ownPaths: ["/usr/share/grafana", "/run.sh"],
      healthTools: ["wget", "bash", "sh"],
      source: "Dockerfile and packaging/docker/run.sh of grafana/grafana (alpine variant)",
    },
  },
  prometheus: {
    repository: "prom/prometheus",
    tag: "v3.16.0",
    arches: ["amd64", "arm64"],
    source: "Go module github.com/prometheus/prometheus v0.316.0 (= v3.16.0)",
    checker: {
      kind: "go",
      module: "github.com/prometheus/prometheus",
      version: "v0.316.0",
      binaries: { prometheus: "./cmd/prometheus", promtool: "./cmd/promtool" },
      // Without the service-discovery plugins: plugins/plugin_*.go@v0.316.0 are each built
      // `!remove_all_sd || enable_<name>_sd`, and plugins/minimum.go keeps file and http SD. The
      // program renders only static_configs, so promtool and Prometheus check and run the same
      // config; a rendered `kubernetes_sd_configs` (say) would fail the conformance tier loudly.
      // It skips compiling client-go and the cloud SDKs, the bulk of a cold build.
      tags: ["remove_all_sd"],
      versionVar: "github.com/prometheus/common/version.Version",
    },
    image: {
      entrypoint: ["/bin/prometheus"],
      user: "65534",
      ownPaths: ["/bin/prometheus", "/bin/promtool"],
      healthTools: ["wget", "sh"],
      source: "Dockerfile@v0.316.0 (busybox base, USER nobody)",
    },
  },
  alertmanager: {
    repository: "prom/alertmanager",
    tag: "v0.35.0",
    arches: ["amd64", "arm64"],
    // CHANGELOG.md@v0.35.0's breaking changes (auto-gomemlimit is a flag now; eventrecorder outputs
    // need a name) touch nothing the program renders: it sets neither.
    source: "Go module github.com/prometheus/alertmanager v0.35.0",
    checker: {
      kind: "go",
      module: "github.com/prometheus/alertmanager",
      version: "v0.35.0",
      binaries: { alertmanager: "./cmd/alertmanager", amtool: "./cmd/amtool" },
      // ui/web.go@v0.35.0 embeds app/dist, which `make assets` builds with npm.
      generated: ["ui/app/dist/index.html"],
      versionVar: "github.com/prometheus/common/version.Version",
    },
    image: {
      entrypoint: ["/bin/alertmanager"],
      user: "65534",
      ownPaths: ["/bin/alertmanager", "/bin/amtool"],
      healthTools: ["wget", "sh"],
      source: "Dockerfile@v0.35.0 (busybox base, USER nobody)",
    },
  },
  loki: {
    repository: "grafana/loki",
    tag: "3.7.8",
    arches: ["amd64", "arm64"],
    source: "Go module github.com/grafana/loki/v3 v3.7.8; cmd/loki/Dockerfile@v3.7.8",
    checker: {
      kind: "go",
      module: "github.com/grafana/loki/v3",
      version: "v3.7.8",
      binaries: { loki: "./cmd/loki" },
      // go.mod@v3.7.8 replaces pkg/push with ./pkg/push; the proxy serves pkg/push only at the
      // version that go.mod requires, so the checker is built with that one.
      localReplaces: { "github.com/grafana/loki/pkg/push": "v0.0.0-20250630054201-94c0ba7b0952" },
      versionVar: "github.com/grafana/loki/v3/pkg/util/build.Version",
    },
    image: {
      entrypoint: ["/usr/bin/loki"],
      user: "10001",
      ownPaths: ["/usr/bin/loki"],
      // gcr.io/distroless/static:nonroot since 3.6.0: no shell, no wget. `loki -health`
      // (cmd/loki/health.go, since 3.7.0) is the healthcheck.
      healthTools: [],
      healthCommand: ["/usr/bin/loki", "-health"],
      source: "cmd/loki/Dockerfile@v3.7.8",
    },
  },
  alloy: {
    repository: "grafana/alloy",
    tag: "v1.19.0",
    arches: ["amd64", "arm64"],
    source: "Go module github.com/grafana/alloy v1.19.0",
    checker: {
      kind: "go",
      module: "github.com/grafana/alloy",
      version: "v1.19.0",
      // The release's main is in collector/, a generated module the proxy does not serve; ours
      // runs the same command tree with only the components the rendered config uses
      // (lib/upstream/mains/alloy/main.go), which compiles about 2,100 packages instead of 4,900.
      binaries: { alloy: "mains/alloy" },
      inModule: {
        // internal/alloycli/cmd_run.go@v1.19.0 imports every component for its side effect.
        dropLines: {
          "internal/alloycli/cmd_run.go": ['_ "github.com/grafana/alloy/internal/component/all"'],
        },
        // internal/converter/converter.go@v1.19.0 imports the four converters, which import every
        // component again (internal/converter/internal/otelcolconvert/otelcolconvert.go).
        replaceFiles: {
          "internal/converter/converter.go": "mains/alloy/stubs/internal/converter/converter.go",
        },
      },
      // go.mod@v1.19.0 replaces syntax with ./syntax and requires v0.1.2, the version
      // release-please sets for the tree at the release.
      localReplaces: { "github.com/grafana/alloy/syntax": "v0.1.2" },
      // The release image's tags (Dockerfile@v1.19.0, GO_TAGS plus the Makefile's gore2regex)
      // but embedalloyui, whose UI assets are not in the module. loki.source.journal is compiled
      // only with cgo and promtail_journal_enabled (internal/component/loki/source/journal/journal.go).
      tags: ["gore2regex", "netgo", "promtail_journal_enabled"],
      cgo: true,
      versionVar: "github.com/grafana/alloy/internal/build.Version",
    },
    image: {
      entrypoint: ["/bin/alloy"],
      user: "0",
      ownPaths: ["/bin/alloy"],
      // Ubuntu noble with ca-certificates, libsystemd0 and tzdata only: bash, no wget or curl.
      healthTools: ["bash", "sh"],
      source: "Dockerfile@v1.19.0",
    },
  },
  phoenix: {
    repository: "arizephoenix/phoenix",
    tag: "version-20.26.1",
    arches: ["amd64", "arm64"],
    source: "PyPI arize-phoenix 20.26.1 (the newest release)",
    checker: { kind: "pypi", package: "arize-phoenix", version: "20.26.1" },
    image: {
      // Distroless python3 (no shell, wget or curl; /usr/bin/python3 is there). The unsuffixed
      // tags are the root variant; `-nonroot` tags run as 65532.
      entrypoint: ["/usr/bin/python3.13"],
      user: "0",
      // WORKDIR /phoenix holds the image's own venv, PYTHONPATH=/phoenix/.venv/lib/python3.13/
      // site-packages (12.x: /phoenix/env): a data volume at /phoenix hides it and Phoenix
      // cannot start.
      ownPaths: ["/phoenix/.venv"],
      healthTools: ["python3"],
      source:
        "Dockerfile of Arize-ai/phoenix at arize-phoenix-v20.3.0 (lines 131-172), the newest tag readable here; the 20.26.1 sdist has no Dockerfile",
    },
  },
  nodeExporter: {
    repository: "prom/node-exporter",
    tag: "v1.12.1",
    arches: ["amd64", "arm64"],
    source: "Go module github.com/prometheus/node_exporter v1.12.1",
    checker: {
      kind: "go",
      module: "github.com/prometheus/node_exporter",
      version: "v1.12.1",
      binaries: { node_exporter: "." },
      versionVar: "github.com/prometheus/common/version.Version",
    },
    image: {
      entrypoint: ["/bin/node_exporter"],
      user: "65534",
      ownPaths: ["/bin/node_exporter"],
      healthTools: ["wget", "sh"],
      source: "Dockerfile@v1.12.1 (busybox base, USER nobody)",
    },
  },
  gpuExporter: {
    repository: "utkuozdemir/nvidia_gpu_exporter",
    tag: "1.14.0",
    // .goreleaser.yml@v1.14.0 publishes linux/amd64 and linux/arm64 images.
    arches: ["amd64", "arm64"],
    source: "github.com/utkuozdemir/nvidia_gpu_exporter tag v1.14.0 (.goreleaser.yml)",
    checker: {
      kind: "none",
      why: "its module is not served by the proxy and it needs nvidia-smi; its metric names are read at the tag and its queries run against the live Prometheus",
    },
    image: {
      entrypoint: ["/usr/bin/nvidia_gpu_exporter"],
      user: "0",
      ownPaths: ["/usr/bin/nvidia_gpu_exporter"],
      // gcr.io/distroless/base-nossl-debian13 since 1.14.0: no shell at all, and no health command.
      healthTools: [],
      source: "Dockerfile@v1.14.0",
    },
  },
  cadvisor: {
    repository: "ghcr.io/google/cadvisor",
    tag: "v0.61.1",
    arches: ["amd64", "arm64"],
    // README.md@v0.61.1: gcr.io/cadvisor only has releases before v0.53.0; the release workflow
    // (.github/workflows/publish-container.yml) publishes to ghcr.io/google/cadvisor.
    source: "Go module github.com/google/cadvisor v0.61.1; publish-container.yml",
    checker: {
      kind: "none",
      why: "it reads a Docker engine, which these machines do not have; its queries run against the live Prometheus",
    },
    image: {
      entrypoint: ["/usr/bin/entrypoint.sh"],
      user: "0",
      ownPaths: ["/usr/bin/cadvisor", "/usr/bin/entrypoint.sh", "/usr/bin/healthcheck.sh"],
      healthTools: ["wget", "sh"],
      source: "deploy/Dockerfile@v0.61.1 (alpine 3.23)",
    },
  },
};

/**
 * Host packages the stack files pin (`hosts.*.docker.version`, `hosts.*.nvidia.toolkitVersion` in
 * Pulumi.citadel.yaml and examples/): the versions a new stack starts from. `tests/pins.test.ts`
 * fails when a committed stack file pins another.
 */
export const HOST_PINS = {
  /**
   * Docker Engine from Docker's apt repository: 28.5.2, the last 28.x. Not 29: Engine 29 raises
   * its minimum API version to 1.44 and uses the containerd image store by default, and the
   * docker provider's client (@pulumi/docker 5.2.0, bridging kreuzwerker/terraform-provider-docker)
   * could not be read here at 5.2.0 (the newest pulumi-docker tag readable is v5.1.0), so nothing
   * shows that it works with either. Move to 29 once its source at the pinned version does.
   */
  dockerEngine: "28.5.2",
  /**
   * nvidia-container-toolkit's apt version: versions.mk@v1.20.2 sets LIB_VERSION 1.20.2 and
   * PACKAGE_REVISION 1, and packaging/debian/control@v1.20.2 makes nvidia-container-toolkit depend
   * on nvidia-container-toolkit-base and libnvidia-container-tools at exactly its own version, so
   * the host script pins every toolkit package to this one.
   */
  nvidiaToolkit: "1.20.2-1",
} as const;

/** The pin of a service by its name (a container's service label), or undefined. */
export function pinOf(service: string): Pin | undefined {
  return Object.hasOwn(PINS, service) ? PINS[service as PinName] : undefined;
}

/** `repository:tag`. */
export function imageOf(pin: Pin): string {
  return `${pin.repository}:${pin.tag}`;
}

/**
 * The release a version string names, as plain `X.Y.Z`: `v3.16.0` and `3.16.0` are the same;
 * `version-20.26.1` is Phoenix's tag for 20.26.1; Prometheus's Go module `v0.316.0` is v3.16.0.
 */
export function releaseOf(version: string, module?: string): string {
  const plain = version.replace(/^version-/, "").replace(/^v/, "");
  if (module === "github.com/prometheus/prometheus") {
    const m = /^0\.(\d)(\d\d)\.(\d+)$/.exec(plain);
    if (m) return `${m[1]}.${Number(m[2])}.${m[3]}`;
  }
  return plain;
}

/** The release the checker is built from, or undefined when nothing checks the image. */
export function checkerRelease(pin: Pin): string | undefined {
  const c = pin.checker;
  if (c.kind === "go") return releaseOf(c.version, c.module);
  if (c.kind === "pypi") return releaseOf(c.version);
  return undefined;
}

/**
 * What is wrong with a pin: its image and its checker name different releases, or nothing checks
 * it and it does not say why. `npm run upstream` refuses to build a checker for a pin with a problem.
 */
export function pinProblem(pin: Pin): string | undefined {
  const checked = checkerRelease(pin);
  if (pin.checker.kind === "none") {
    if (checked !== undefined) return `no checker, yet a checker release ${checked}`;
    return pin.checker.why.length > 20 ? undefined : "no checker, and no reason why";
  }
  return releaseOf(pin.tag) === checked ? undefined : `image ${releaseOf(pin.tag)}, checker ${checked}`;
}
