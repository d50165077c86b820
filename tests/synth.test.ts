/** `npm start` as a user runs it: a subprocess on a stack file, writing out/. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { citadelHost, labConfigMap, PI_STACK_FILE, piConfigMap, piRaid, STACK_FILE } from "./support/lab";
import { scratchDir } from "./support/scratch";

const ROOT = path.join(__dirname, "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");

function start(args: string[]) {
  return spawnSync(TSX, ["tools/synth.ts", ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
}

/**
 * `npm start` on a committed stack file into a new folder, run once per stack file however many
 * tests read its exit, output and folder (none of them writes there). A run is a whole process
 * that plans the lab, about 1.5 s of CPU.
 */
const committedRuns = new Map<string, { run: ReturnType<typeof start>; out: string }>();
function committedRun(file: string): { run: ReturnType<typeof start>; out: string } {
  let done = committedRuns.get(file);
  if (!done) {
    const out = scratchDir("citadel-out-");
    done = { run: start(["--config", file, "--out", out]), out };
    committedRuns.set(file, done);
  }
  return done;
}

function stackFile(config: Record<string, unknown>, name = "citadel"): string {
  const file = path.join(scratchDir("citadel-stack-"), `Pulumi.${name}.yaml`);
  writeFileSync(file, stringify({ config }));
  return file;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describe("npm start", () => {
  let out: string;
  let run: ReturnType<typeof start>;
  beforeAll(() => {
    ({ run, out } = committedRun(STACK_FILE));
  });

  it("exits 0 and prints the host layer as a tree with counts", () => {
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("├─ citadel (citadel:host:Host)");
    expect(run.stdout).toContain("└─ vllm (citadel:llm:Vllm)");
    expect(run.stdout).toMatch(/citadel-storage-lvm \(command:remote:Command\) \[protected, retained\]/);
    expect(run.stdout).toContain("94 resources: 19 components, 75 provider resources");
    expect(run.stdout).toContain("3 protected, 75 rendered files");
    expect(run.stdout).toContain("citadel-guard: 0 mandatory, 10 advisory violations");
    const report = JSON.parse(readFileSync(path.join(out, "policy-report.json"), "utf8")) as {
      enforcementLevel: string;
    }[];
    expect(report.filter((v) => v.enforcementLevel === "mandatory")).toEqual([]);
  });

  it("writes resources.json sorted by URN with the fields reviewers need", () => {
    const resources = JSON.parse(readFileSync(path.join(out, "resources.json"), "utf8")) as Record<
      string,
      unknown
    >[];
    const urns = resources.map((r) => r.urn as string);
    expect(urns).toEqual([...urns].sort());
    expect(resources).toHaveLength(94);
    for (const r of resources) {
      expect(Object.keys(r)).toEqual([
        "urn",
        "type",
        "name",
        "parent",
        "inputs",
        "protect",
        "retainOnDelete",
        "dependsOn",
        "provider",
      ]);
    }
    const lvm = resources.find((r) => r.name === "citadel-storage-lvm")!;
    expect(lvm).toMatchObject({ protect: true, retainOnDelete: true, dependsOn: [], provider: null });
    // Which host and user a command reaches is visible; only credentials would be masked.
    expect((lvm.inputs as Record<string, unknown>).connection).toMatchObject({
      host: "192.168.10.29",
      port: 22,
    });
  });

  it("shows every vLLM server and the plan per GPU, and writes the plans", () => {
    expect(run.stdout).toContain("├─ vllm-chat-container (docker:index/container:Container)");
    expect(run.stdout).toContain("├─ vllm-embed-container (docker:index/container:Container)");
    expect(run.stdout).toContain(
      "  chat  generate qwen3-8b  http://192.168.10.29:8000/v1  GPU 0, TP=1\n" +
        "    per GPU: reserves 14.35 GiB (gpu-memory-utilization 0.92): weights 8.79, reserve 2.5, KV cache 3.07 GiB = 44641 tokens (1.36 requests of max-model-len 32768)",
    );
    expect(run.stdout).toContain(
      "  embed  embed qwen3-embedding-0.6b  http://192.168.10.29:8001/v1  GPU 1, TP=1",
    );
    expect(run.stdout).toContain(
      "per GPU:\n  GPU 0  of 15.6 GiB (cudaMemGetInfo): chat 0.92 (14.35 GiB + 0.5 GiB baseline), 0.75 GiB unreserved\n" +
        "  GPU 1  of 15.6 GiB (cudaMemGetInfo): embed 0.3 (4.68 GiB + 0.5 GiB baseline), 10.42 GiB unreserved",
    );
    const plan = JSON.parse(readFileSync(path.join(out, "vram-plan.json"), "utf8"));
    expect(plan.gpus).toHaveLength(2);
    expect(plan.servers.chat).toMatchObject({
      fits: true,
      maxModelLen: 32768,
      perGpu: { tokensThatFit: 44641 },
    });
    expect(plan.servers.embed).toMatchObject({ fits: true, maxModelLen: 8192 });
  });

  it("writes every rendered script and config under files/", () => {
    const files = listFiles(path.join(out, "files"));
    expect(files).toContain("citadel/commands/citadel-storage-disk-data.sh");
    expect(files).toContain("citadel/etc/docker/daemon.json");
    expect(files).toContain("local/commands/citadel-nvidia-wait.sh");
    expect(files).toEqual(
      expect.arrayContaining([
        "citadel/etc/systemd/system/citadel-drift.service",
        "citadel/etc/systemd/system/citadel-drift.timer",
        "citadel/usr/local/lib/citadel/citadel-drift.sh",
      ]),
    );
    expect(readFileSync(path.join(out, "files/citadel/commands/citadel-storage-lvm.sh"), "utf8")).toMatch(
      /^#!\/usr\/bin\/env bash\n# citadel script: host\/scripts\/grow-lvm.sh\n/,
    );
  });

  it("produces byte-identical output on a second run", () => {
    const again = scratchDir("citadel-out-");
    expect(start(["--config", STACK_FILE, "--out", again]).status).toBe(0);
    const files = listFiles(out);
    expect(listFiles(again)).toEqual(files);
    for (const f of files)
      expect(readFileSync(path.join(again, f), "utf8")).toBe(readFileSync(path.join(out, f), "utf8"));
  });
});

describe("npm start on the monitoring Pi's example stack", () => {
  let out: string;
  let run: ReturnType<typeof start>;
  beforeAll(() => {
    ({ run, out } = committedRun(PI_STACK_FILE));
  });

  it("exits 0 with no mandatory violation, the array's step protected and retained, and its scrub timer", () => {
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`citadel: plan for stack "monitoring-pi" from ${PI_STACK_FILE}`);
    expect(run.stdout).toContain("pi-storage-raid-ladon (command:remote:Command) [protected, retained]");
    expect(run.stdout).toContain("pi-storage-scrub (command:remote:Command)");
    expect(run.stdout).toContain("citadel-guard: 0 mandatory, 8 advisory violations");
  });

  it("prints each array: host, level, md name, mount point and members", () => {
    expect(run.stdout).toContain(
      [
        "RAID arrays (created only from blank members; an existing one is adopted, never recreated):",
        "  pi: RAID10 /dev/md/ladon at /srv/ladon, 4 members:",
        "    /dev/disk/by-id/ata-HAT_SSD_BAY1_SERIAL_UNRECORDED",
        "    /dev/disk/by-id/ata-HAT_SSD_BAY2_SERIAL_UNRECORDED",
        "    /dev/disk/by-id/ata-HAT_SSD_BAY3_SERIAL_UNRECORDED",
        "    /dev/disk/by-id/ata-HAT_SSD_BAY4_SERIAL_UNRECORDED",
        "",
      ].join("\n"),
    );
    const outputs = JSON.parse(readFileSync(path.join(out, "outputs.json"), "utf8"));
    expect(outputs.hosts.pi.raids).toEqual([
      {
        name: "ladon",
        level: 10,
        mountPoint: "/srv/ladon",
        members: [1, 2, 3, 4].map((i) => `/dev/disk/by-id/ata-HAT_SSD_BAY${i}_SERIAL_UNRECORDED`),
      },
    ]);
    expect(readFileSync(path.join(out, "files/pi/commands/pi-storage-raid-ladon.sh"), "utf8")).toMatch(
      /^#!\/usr\/bin\/env bash\n# citadel script: host\/scripts\/prepare-raid.sh\n/,
    );
  });

  it("prints no RAID section for a lab without arrays", () => {
    const citadel = committedRun(STACK_FILE).run;
    expect(citadel.status).toBe(0);
    expect(citadel.stdout).not.toContain("RAID arrays");
  });

  it("refuses the example with too few members for its level, naming the key, and writes nothing", () => {
    const config = piConfigMap();
    piRaid(config).members = piRaid(config).members.slice(0, 1);
    const target = path.join(scratchDir("citadel-out-"), "out");
    const bad = start(["--config", stackFile(config, "monitoring-pi"), "--out", target]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(
      "citadel:hosts.pi.storage.raids[0].members: RAID10 needs at least 2 members, but 1 is listed; add members or choose another level",
    );
    expect(existsSync(target)).toBe(false);
  });
});

describe("npm start on a bad or secret-bearing stack", () => {
  it("exits non-zero with the loader's message and writes nothing", () => {
    const config = labConfigMap();
    citadelHost(config).address = "192.168.10.299";
    citadelHost(config).storage.disks[1].mountPoint = "/srv/data";
    const out = path.join(scratchDir("citadel-out-"), "out");
    const file = stackFile(config);
    const run = start(["--config", file, "--out", out]);
    expect(run.status).toBe(2);
    // The file that was read, not the default name.
    expect(run.stderr).toContain(`Invalid lab config in ${file} (2 problems); nothing was applied:`);
    expect(run.stderr).toContain("citadel:hosts.citadel.address");
    expect(run.stderr).toContain("citadel:hosts.citadel.storage.disks[1].mountPoint");
    expect(existsSync(out)).toBe(false);
  });

  it("reports one plaintext secret once, and nothing false about the others", () => {
    const config = labConfigMap();
    config["citadel:vllmApiKey"] = "plaintext-key-0123456789";
    const out = path.join(scratchDir("citadel-out-"), "out");
    const run = start(["--config", stackFile(config), "--out", out]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("(1 problem); nothing was applied:");
    expect(run.stderr).toContain("citadel:vllmApiKey: is stored in plaintext");
    expect(run.stderr).not.toContain("required secret is not set");
    expect(run.stderr).not.toContain("plaintext-key-0123456789");
  });

  it("names, one line per host, the committed placeholders that pulumi up would refuse, and still exits 0", () => {
    const { run } = committedRun(STACK_FILE);
    expect(run.status).toBe(0);
    const lines = run.stdout.split("\n").filter((l) => l.startsWith("placeholder: "));
    expect(lines.filter((l) => l.startsWith("placeholder: host "))).toEqual([
      "placeholder: host citadel: ssh.hostKey is the committed stand-in, so every command refuses to connect; pin the real key: ssh-keyscan -t ed25519 192.168.10.29 | cut -d' ' -f2- (pulumi up would refuse)",
    ]);
    // The committed stack holds no secrets: each required one is named with its command.
    expect(lines).toContain(
      'placeholder: secret citadel:vllmApiKey is not set in this stack (pulumi up would refuse); run `pulumi config set --secret citadel:vllmApiKey "$(openssl rand -hex 32)"`',
    );
    const pi = committedRun(PI_STACK_FILE).run;
    expect(pi.status).toBe(0);
    expect(pi.stdout).toContain(
      "placeholder: host pi: ssh.hostKey is the committed stand-in, so every command refuses to connect; pin the real key: ssh-keyscan -t ed25519 192.168.10.40 | cut -d' ' -f2-; storage.raids[0].members[0], storage.raids[0].members[1], storage.raids[0].members[2], storage.raids[0].members[3] name drives whose serials are not recorded",
    );
  });

  it("prints a config warning and adds it to the policy report, without changing the exit code", () => {
    const config = labConfigMap();
    config["citadel:ops"].firewall.adminSubnet = "10.0.0.0/8";
    config["aws:region"] = "us-east-1";
    const file = stackFile(config);
    const out = scratchDir("citadel-out-");
    const warned = start(["--config", file, "--out", out]);
    expect(warned.status).toBe(0);
    expect(warned.stdout).toContain(
      `warning: ${file}: aws:region: nothing reads the namespace "aws" (the program reads citadel:, and Pulumi and its providers read pulumi:, docker:, command:, grafana:); remove the key`,
    );
    expect(warned.stdout).toContain(
      `warning: ${file}: citadel:ops.firewall.adminSubnet: 10.0.0.0/8 contains no host of the lab (citadel 192.168.10.29)`,
    );
    const report = JSON.parse(readFileSync(path.join(out, "policy-report.json"), "utf8")) as {
      policy: string;
      enforcementLevel: string;
      message: string;
    }[];
    expect(
      report
        .filter((v) => v.policy === "citadel-config-warning")
        .map((v) => [v.enforcementLevel, v.message.split(":")[0]]),
    ).toEqual([
      ["advisory", "aws"],
      ["advisory", "citadel"],
    ]);
  });

  it("refuses a typo of the citadel namespace instead of planning the lab without that section", () => {
    const config = labConfigMap();
    config["citdel:vllm"] = config["citadel:vllm"];
    delete config["citadel:vllm"];
    const out = scratchDir("citadel-out-");
    const refused = start(["--config", stackFile(config), "--out", out]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(
      'citdel:vllm: namespace "citdel" is not "citadel", so nothing reads this section and the lab would be planned without it; rename the key to citadel:vllm',
    );
    expect(refused.stderr).not.toMatch(/\n\s+at /);
    expect(listFiles(out)).toEqual([]);
  });

  it("substitutes a marked placeholder for a secure: secret, lists it and never writes it", () => {
    const config = labConfigMap();
    citadelHost(config).ssh.auth = "privateKey";
    config["citadel:sshPrivateKey"] = { secure: "v1:AAAAencryptedAAAA" };
    const out = scratchDir("citadel-out-");
    const run = start(["--config", stackFile(config), "--out", out]);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(
      "secrets replaced by placeholders (the stack file holds no secret values): citadel:alertmanagerPassword, citadel:grafanaAdminPassword, citadel:phoenixAdminPassword, citadel:phoenixSecret, citadel:prometheusPassword, citadel:resticPassword, citadel:sshPrivateKey, citadel:vllmApiKey",
    );
    expect(run.stdout).not.toContain("PLACEHOLDER");
    for (const f of listFiles(out))
      expect(readFileSync(path.join(out, f), "utf8")).not.toMatch(/PLACEHOLDER|encrypted/);
  });

  it("runs citadel-guard, writes its report and exits 3 on a mandatory violation", () => {
    const config = labConfigMap();
    // The program accepts this flag; the pack refuses a token on a command line.
    config["citadel:vllm"].servers.chat.extraArgs = ["--hf-token=hf_not_a_real_token"];
    const out = scratchDir("citadel-out-");
    const run = start(["--config", stackFile(config), "--out", out]);
    expect(run.status).toBe(3);
    expect(run.stdout).toMatch(
      /mandatory +disallow-plaintext-secrets +vllm-chat-container +container vllm passes --hf-token on its command line/,
    );
    expect(run.stdout).toContain("citadel-guard: 1 mandatory, 10 advisory violations");
    const report = JSON.parse(readFileSync(path.join(out, "policy-report.json"), "utf8")) as {
      policy: string;
      enforcementLevel: string;
    }[];
    expect(report.filter((v) => v.enforcementLevel === "mandatory").map((v) => v.policy)).toEqual([
      "disallow-plaintext-secrets",
    ]);
  });

  it("explains a missing stack file and a bad argument", () => {
    const missing = start(["--config", "/nonexistent/Pulumi.x.yaml"]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("cannot read /nonexistent/Pulumi.x.yaml; pass --config <stack yaml>");
    const bad = start(["--stack"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("usage: npm start -- [--config <stack yaml>] [--out <dir>]");
  });

  it("says so when the stack file is empty or has no config: section", () => {
    const dir = scratchDir("citadel-empty-");
    for (const [name, text] of [
      ["Pulumi.empty.yaml", ""],
      ["Pulumi.bare.yaml", "encryptionsalt: abc\n"],
    ]) {
      const file = path.join(dir, name as string);
      writeFileSync(file, text as string);
      const run = start(["--config", file]);
      expect(run.status).toBe(2);
      expect(run.stderr).toContain(`${file} is empty or has no config: section`);
      expect(run.stderr).not.toContain("received undefined");
    }
  });

  it("never writes into, or clears, a folder it did not make; and says so for a file", () => {
    const theirs = scratchDir("citadel-theirs-");
    mkdirSync(path.join(theirs, "files"));
    writeFileSync(path.join(theirs, "files", "thesis.tex"), "years of work");
    writeFileSync(path.join(theirs, "notes.txt"), "mine");
    const refused = start(["--config", STACK_FILE, "--out", theirs]);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(`--out ${theirs} already holds files that npm start did not write`);
    expect(readFileSync(path.join(theirs, "files", "thesis.tex"), "utf8")).toBe("years of work");
    expect(readdirSync(theirs).sort()).toEqual(["files", "notes.txt"]);

    const file = path.join(theirs, "notes.txt");
    const onFile = start(["--config", STACK_FILE, "--out", file]);
    expect(onFile.status).toBe(2);
    expect(onFile.stderr).toContain(`--out ${file} is a file, not a folder`);
    expect(onFile.stderr).not.toMatch(/\n\s+at /);
  });

  it("writes into out/ beside what the other tools of the project wrote there, and keeps it", () => {
    // What a developer's out/ holds after npm test, the conformance and e2e tiers, npm run assess,
    // npm run mutate and a refused baseline, and before npm start's first run there.
    const out = scratchDir("citadel-tools-out-");
    const theirs = [
      "test-summary.json",
      "conformance.json",
      "assess-conformance.png",
      "e2e.json",
      "assess.png",
      "rejected-2026-12-06T10-00-00Z-qwen3-8b.json",
    ];
    for (const f of theirs) writeFileSync(path.join(out, f), f);
    mkdirSync(path.join(out, "mutation"));
    writeFileSync(path.join(out, "mutation", "mutation.json"), "{}");
    const run = start(["--config", STACK_FILE, "--out", out]);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    for (const f of theirs) expect(readFileSync(path.join(out, f), "utf8")).toBe(f);
    expect(readFileSync(path.join(out, "mutation", "mutation.json"), "utf8")).toBe("{}");
    expect(existsSync(path.join(out, "resources.json"))).toBe(true);
  });

  it("rewrites its own output folder, marked as its own", () => {
    const ours = path.join(scratchDir("citadel-ours-"), "out");
    expect(start(["--config", STACK_FILE, "--out", ours]).status).toBe(0);
    expect(readFileSync(path.join(ours, ".citadel-out"), "utf8")).toContain("written by npm start");
    expect(start(["--config", STACK_FILE, "--out", ours]).status).toBe(0);
  });
});
