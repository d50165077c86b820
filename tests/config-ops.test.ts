/**
 * The ops section's config checks (components/config/ops.ts) and the config warnings
 * (components/config/warnings.ts): refusals at their keys with their messages, the edges, the
 * defaults (retention among them), and what a warning says. Pure and fast (no synthesis).
 */
import { cidrContains, normaliseCidr } from "../components/config/ops";
import { closest, editDistance, labWarnings, namespaceFindings } from "../components/config/warnings";
import { MODEL_CATALOG } from "../components/shared/models";
import { addMonitoringPi, labConfigMap } from "./support/lab";
import { loadLab, messagesAt, refusals, verdict, withKey } from "./support/verdict";

const FW = "citadel:ops.firewall";
/** Qwen3-8B's facts from the catalog, for a model the catalog does not know by its id. */
const CHAT_FACTS = MODEL_CATALOG["Qwen/Qwen3-8B"];
const BK = "citadel:ops.backups";

describe("ops checks refuse, at the key, with a fix", () => {
  it.each([
    [`${FW}.adminSubnet`, "192.168.10.0", "must be an IPv4 subnet such as 192.168.10.0/24"],
    [`${FW}.adminSubnet`, "192.168.10.0/33", "must be an IPv4 subnet such as 192.168.10.0/24"],
    [`${FW}.adminSubnet`, "x192.168.10.0/24", "must be an IPv4 subnet such as 192.168.10.0/24"],
    [`${FW}.labSubnet`, "192.168.256.0/24", "has an octet above 255"],
    [
      `${FW}.labSubnet`,
      "192.168.10.29/24",
      "192.168.10.29/24 has host bits set; the subnet is 192.168.10.0/24, so write that",
    ],
    [
      `${FW}.hadesSubnet`,
      "10.1.2.3/8",
      "10.1.2.3/8 has host bits set; the subnet is 10.0.0.0/8, so write that",
    ],
    [`${BK}.repository`, "srv/backup", "must be an absolute path or a restic repository URL"],
    [`${BK}.repository`, "/srv/back up", "must be an absolute path or a restic repository URL"],
    [`${BK}.extraPaths`, ["etc"], "must be an absolute path"],
    [`${BK}.extraPaths`, ["/etc x"], "must be an absolute path"],
    [`${BK}.extraPaths`, ["x/etc"], "must be an absolute path"],
  ])("%s: %j", (key, value, message) => {
    expect(refusals(key, value)).toContain(message);
  });

  it.each([
    [`${BK}.schedule`, "every day at 3"],
    [`${BK}.pruneSchedule`, "Sun *-*-* 25:00:00"],
    [`${BK}.keep.daily`, 0],
    [`${BK}.keep.daily`, 367],
    [`${BK}.keep.weekly`, -1],
    [`${BK}.keep.weekly`, 521],
    [`${BK}.keep.monthly`, 241],
    ["citadel:ops.baseline.regressionMargin", 5.01],
  ])("refuses %s: %j", (key, value) => {
    expect(messagesAt(verdict(withKey(key, value)), key)).toHaveLength(1);
  });
});

describe("the edges ops accepts", () => {
  it.each([
    [`${FW}.labSubnet`, "0.0.0.0/0"],
    [`${FW}.labSubnet`, "192.168.10.29/32"],
    [`${FW}.hadesSubnet`, "10.255.255.0/24"],
    [`${BK}.repository`, "sftp:backup@nas:/restic"],
    [`${BK}.repository`, "rest:https://nas:8000/citadel"],
    [`${BK}.repository`, "s3:s3.lab/citadel"],
    [`${BK}.keep.daily`, 1],
    [`${BK}.keep.daily`, 366],
    [`${BK}.keep.weekly`, 0],
    [`${BK}.keep.monthly`, 240],
  ])("%s: %j", (key, value) => {
    expect(verdict(withKey(key, value))).toBe("accepted");
  });

  it("gives backups, their retention and the baseline their defaults", () => {
    const config = withKey(BK, { host: "citadel" }, withKey("citadel:ops.baseline", undefined));
    const ops = loadLab(config).lab.ops;
    expect(ops.backups).toEqual({
      host: "citadel",
      repository: "/srv/backup/restic",
      schedule: "*-*-* 03:15:00",
      pruneSchedule: "Sun *-*-* 04:30:00",
      checkSchedule: "Sun *-*-* 05:30:00",
      keep: { daily: 7, weekly: 4, monthly: 6 },
      extraPaths: [],
    });
    expect(ops.baseline).toEqual({
      inputLen: 512,
      outputLen: 128,
      numPrompts: 200,
      requestRate: 4,
      maxConcurrency: 8,
      regressionMargin: 0.15,
    });
    expect(ops.firewall?.adminFromAnywhere).toBe(false);
    expect(ops.validateAfterDeploy).toBe(false);
  });
});

describe("subnets", () => {
  it("clear host bits and contain exactly their addresses", () => {
    expect(normaliseCidr("192.168.10.29/24")).toBe("192.168.10.0/24");
    expect(normaliseCidr("10.200.3.4/9")).toBe("10.128.0.0/9");
    expect(normaliseCidr("8.8.8.8/0")).toBe("0.0.0.0/0");
    expect(normaliseCidr("8.8.8.8/32")).toBe("8.8.8.8/32");
    expect(cidrContains("192.168.10.0/24", "192.168.10.255")).toBe(true);
    expect(cidrContains("192.168.10.0/24", "192.168.11.0")).toBe(false);
    expect(cidrContains("10.128.0.0/9", "10.127.255.255")).toBe(false);
    expect(cidrContains("0.0.0.0/0", "203.0.113.7")).toBe(true);
    expect(cidrContains("192.168.10.29/32", "192.168.10.29")).toBe(true);
    expect(cidrContains("192.168.10.29/32", "192.168.10.28")).toBe(false);
  });
});

describe("warnings", () => {
  it("measure names by edits and suggest only a near one, the first of equals by name", () => {
    expect(editDistance("citadel", "citadel")).toBe(0);
    expect(editDistance("citdel", "citadel")).toBe(1);
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(closest("Dokcer", ["pulumi", "docker", "command"])).toBe("docker");
    expect(closest("grafanna", ["grafana"])).toBe("grafana");
    expect(closest("aws", ["pulumi", "docker", "command", "grafana"])).toBeUndefined();
    // Two edits pass only for names of six letters or more.
    expect(closest("pulmi", ["pulumi"])).toBe("pulumi");
    expect(closest("pxlxmi", ["pulumi"])).toBe("pulumi");
    expect(closest("xbcdx", ["abcde"])).toBeUndefined();
    expect(closest("xy", ["pu"])).toBeUndefined();
    expect(closest("xu", ["pu"])).toBe("pu");
    expect(closest("ab", ["ac", "ad"])).toBe("ac");
    // Equals by edits are ordered by name, whatever order they are known in.
    expect(closest("ab", ["ad", "ac"])).toBe("ac");
    expect(closest("x", [])).toBeUndefined();
  });

  it("refuse a namespace that is a typo of the program's, and warn about one nothing reads", () => {
    const { problems, warnings } = namespaceFindings(
      [
        "citdel:vllm",
        "Citadel:ops",
        "aws:region",
        "grafana:url",
        "dokcer:host",
        "pulumi:tags",
        "CITADEL:ladon",
        "citdl:hosts",
      ],
      "citadel",
    );
    expect(problems).toEqual([
      {
        path: "CITADEL:ladon",
        message:
          'namespace "CITADEL" is not "citadel", so nothing reads this section and the lab would be planned without it; rename the key to citadel:ladon',
      },
      {
        path: "Citadel:ops",
        message:
          'namespace "Citadel" is not "citadel", so nothing reads this section and the lab would be planned without it; rename the key to citadel:ops',
      },
      {
        path: "citdel:vllm",
        message:
          'namespace "citdel" is not "citadel", so nothing reads this section and the lab would be planned without it; rename the key to citadel:vllm',
      },
      {
        // Two edits from citadel: still a typo of it.
        path: "citdl:hosts",
        message:
          'namespace "citdl" is not "citadel", so nothing reads this section and the lab would be planned without it; rename the key to citadel:hosts',
      },
    ]);
    expect(warnings).toEqual([
      {
        path: "aws:region",
        message:
          'nothing reads the namespace "aws" (the program reads citadel:, and Pulumi and its providers read pulumi:, docker:, command:, grafana:); remove the key',
      },
      {
        path: "dokcer:host",
        message:
          'nothing reads the namespace "dokcer" (the program reads citadel:, and Pulumi and its providers read pulumi:, docker:, command:, grafana:); did you mean docker:host?',
      },
    ]);
  });

  it("warn about an admin subnet that holds no host, a served name of another model, and all-free under the VG alert", () => {
    const config = labConfigMap();
    withKey(`${FW}.adminSubnet`, "10.0.0.0/8", config);
    withKey("citadel:vllm.servers.embed.servedModelName", "qwen3-8b", config);
    withKey("citadel:hosts.citadel.storage.lvm.size", "all-free", config);
    expect(labWarnings(loadLab(config).lab)).toEqual([
      {
        path: ["vllm", "servers", "embed", "servedModelName"],
        message:
          '"qwen3-8b" names Qwen/Qwen3-8B, but this server serves Qwen/Qwen3-Embedding-0.6B; clients asking for it get another model than they think. Set it to a name for Qwen/Qwen3-Embedding-0.6B (e.g. qwen3-embedding-0.6b), or remove it',
      },
      {
        path: ["ops", "firewall", "adminSubnet"],
        message:
          "10.0.0.0/8 contains no host of the lab (citadel 192.168.10.29); SSH is allowed only from there, so check it holds the machine that runs pulumi",
      },
      {
        path: ["hosts", "citadel", "storage", "lvm", "size"],
        message:
          "all-free leaves the volume group no free extents, so LvmVolumeGroupNearlyFull fires for good; set ladon.thresholds.vgFreeRatio: off, or give a size",
      },
    ]);
    // The committed lab warns about nothing; all-free with the alert off is what it asks for.
    expect(labWarnings(loadLab(labConfigMap()).lab)).toEqual([]);
    withKey("citadel:ladon.thresholds", { vgFreeRatio: "off" }, config);
    expect(labWarnings(loadLab(config).lab).map((w) => w.path.join("."))).not.toContain(
      "hosts.citadel.storage.lvm.size",
    );
  });

  describe("a served name", () => {
    /** The warnings of the lab with each server's servedModelName set, as path: first clause. */
    const served = (names: Record<string, string>): string[] => {
      const config = labConfigMap();
      for (const [server, name] of Object.entries(names))
        withKey(`citadel:vllm.servers.${server}.servedModelName`, name, config);
      return labWarnings(loadLab(config).lab).map((w) => `${w.path.join(".")}: ${w.message.split(";")[0]}`);
    };

    it.each([
      ["its model's short name", "qwen3-8b"],
      ["its model's id, in any case", "QWEN/qwen3-8B"],
      ["a name of its own", "house-chat"],
    ])("is fine when it is %s", (_what, name) => {
      expect(served({ chat: name })).toEqual([]);
    });

    it.each([
      ["another model's short name", "Qwen3-Embedding-0.6B"],
      ["another model's id, in any case", "QWEN/QWEN3-EMBEDDING-0.6B"],
    ])("is a warning when it is %s", (_what, name) => {
      expect(served({ chat: name })).toEqual([
        `vllm.servers.chat.servedModelName: "${name}" names Qwen/Qwen3-Embedding-0.6B, but this server serves Qwen/Qwen3-8B`,
      ]);
    });

    it("is fine for a model outside the catalog that shares a catalog model's name: it is that model's too", () => {
      // A fine-tune under another organisation, and the catalog's own id in lower case.
      for (const model of ["hana-x/Qwen3-8B", "qwen/qwen3-8b"]) {
        const config = labConfigMap();
        withKey("citadel:vllm.servers.chat.model", model, config);
        withKey("citadel:vllm.servers.chat.modelFacts", CHAT_FACTS, config);
        for (const name of ["qwen3-8b", model.toLowerCase()]) {
          withKey("citadel:vllm.servers.chat.servedModelName", name, config);
          expect([model, name, labWarnings(loadLab(config).lab)]).toEqual([model, name, []]);
        }
      }
    });

    it("warns server by server in name order, whatever order the stack file has them in", () => {
      const config = labConfigMap();
      const { chat, embed } = config["citadel:vllm"].servers;
      config["citadel:vllm"].servers = {
        embed: { ...embed, servedModelName: "qwen3-8b" },
        chat: { ...chat, servedModelName: "qwen3-embedding-0.6b" },
      };
      expect(labWarnings(loadLab(config).lab).map((w) => w.path.join("."))).toEqual([
        "vllm.servers.chat.servedModelName",
        "vllm.servers.embed.servedModelName",
      ]);
    });
  });

  describe("an admin subnet", () => {
    const adminWarnings = (config: Record<string, any>) =>
      labWarnings(loadLab(config).lab)
        .filter((w) => w.path.join(".") === "ops.firewall.adminSubnet")
        .map((w) => w.message.split(";")[0]);

    it("is checked against the hosts given by IPv4 address, and holding one of them is enough", () => {
      const config = withKey(`${FW}.adminSubnet`, "192.168.20.0/24");
      addMonitoringPi(config, "192.168.20.40");
      expect(adminWarnings(config)).toEqual([]);
      withKey("citadel:hosts.pi.address", "192.168.30.40", config);
      expect(adminWarnings(config)).toEqual([
        "192.168.20.0/24 contains no host of the lab (citadel 192.168.10.29, pi 192.168.30.40)",
      ]);
    });

    it("says nothing when the hosts are known by name only, or when there is no firewall", () => {
      expect(
        adminWarnings(
          withKey("citadel:hosts.citadel.address", "citadel.lab", withKey(`${FW}.adminSubnet`, "10.0.0.0/8")),
        ),
      ).toEqual([]);
      expect(labWarnings(loadLab(withKey(FW, undefined)).lab)).toEqual([]);
    });
  });
});
