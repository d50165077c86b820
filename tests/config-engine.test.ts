/**
 * The config as the Pulumi engine hands it to the program (components/config/engine.ts): the
 * runtime's config map, each value a string (objects as JSON) and the secret keys marked, which is
 * what `pulumi up` sets and what lib/synth/harness.ts sets for the synth tests. The lab read that
 * way equals the lab read from the stack file, and its secrets stay secret.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadLabConfig, pulumiConfigSource } from "../components/config/engine";
import { CONFIG_SOURCE_ENV } from "../components/config/source";
import { PlanChecker } from "../components/plan";
import { fromConfigMap } from "../lib/synth/stackfile";
import { goodSecretValue, LAB_SECRETS, labConfigMap } from "./support/lab";
import { loadLab, verdict, withKey } from "./support/verdict";

/** The runtime config of the committed stack, as the engine sets it: strings, secrets marked. */
function engineConfig(extra: Record<string, string> = {}): void {
  const file = fromConfigMap(labConfigMap());
  const config: Record<string, string> = { ...extra };
  for (const [key, value] of Object.entries(file.values))
    config[`citadel:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
  for (const key of LAB_SECRETS) config[`citadel:${key}`] = goodSecretValue(key);
  pulumi.runtime.setAllConfig(
    config,
    LAB_SECRETS.map((k) => `citadel:${k}`),
  );
}

afterEach(() => pulumi.runtime.setAllConfig({}, []));

describe("the engine's config source", () => {
  it("lists the program's keys and the foreign ones apart, parses JSON values and keeps plain text", () => {
    engineConfig({ "aws:region": "eu-west-1", "citadel:note": "not {json" });
    const source = pulumiConfigSource();
    // Exactly the citadel: keys, without their namespace: the stack file's, its secrets and the note.
    const expected = [...Object.keys(fromConfigMap(labConfigMap()).values), ...LAB_SECRETS, "note"];
    expect([...source.keys()].sort()).toEqual(expected.sort());
    expect(source.keys()).toEqual(expect.arrayContaining(["hosts", "vllm", "note", "vllmApiKey"]));
    expect(source.foreignKeys?.()).toEqual(["aws:region"]);
    expect(source.value("note")).toBe("not {json");
    expect(source.value("hosts")).toEqual(labConfigMap()["citadel:hosts"]);
    expect(source.value("nothing")).toBeUndefined();
    expect(source.isSecret("vllmApiKey")).toBe(true);
    expect(source.isSecret("hosts")).toBe(false);
    expect(source.isSecret("note")).toBe(false);
  });

  it("reads the same lab the stack file gives, with every secret an Output marked secret", async () => {
    engineConfig();
    const { lab, secrets } = loadLabConfig(new PlanChecker());
    expect(lab).toEqual(loadLab(labConfigMap()).lab);
    expect(Object.keys(secrets.values).sort()).toEqual([...LAB_SECRETS].sort());
    for (const [key, value] of Object.entries(secrets.values)) {
      expect([key, await pulumi.isSecret(value)]).toEqual([key, true]);
      const plain = await new Promise<string>((resolve) => value.apply((v) => resolve(v)));
      expect(plain).toBe(goodSecretValue(key));
    }
  });

  describe("its warnings", () => {
    afterEach(() => {
      jest.restoreAllMocks();
      delete process.env[CONFIG_SOURCE_ENV];
    });
    /** The lines pulumi.log.warn got while loading the lab with one warning, under the engine or not. */
    const warned = (engine: boolean): string[] => {
      engineConfig({ "aws:region": "eu-west-1" });
      jest.spyOn(pulumi.runtime, "hasEngine").mockReturnValue(engine);
      const warn = jest.spyOn(pulumi.log, "warn").mockResolvedValue();
      loadLabConfig(new PlanChecker());
      const lines = warn.mock.calls.map(([line]) => line.split(" (")[0] as string);
      jest.restoreAllMocks();
      return lines;
    };

    it("go to the engine's log, naming the stack file, the key and the rule, once each", () => {
      expect(warned(true)).toEqual([
        `Pulumi.${pulumi.getStack()}.yaml: aws:region: nothing reads the namespace "aws"`,
      ]);
      process.env[CONFIG_SOURCE_ENV] = "examples/Pulumi.monitoring-pi.yaml";
      expect(warned(true)).toEqual([
        'examples/Pulumi.monitoring-pi.yaml: aws:region: nothing reads the namespace "aws"',
      ]);
    });

    it("are left to npm start and npm run diff without the engine, which print their own", () => {
      expect(warned(false)).toEqual([]);
    });
  });
});

describe("the loader", () => {
  it("refuses a typo of the citadel namespace, which would plan the lab without that section", () => {
    const config = labConfigMap();
    config["citdel:backupz"] = { host: "citadel" };
    expect(verdict(config)).toEqual([
      'citdel:backupz: namespace "citdel" is not "citadel", so nothing reads this section and the lab would be planned without it; rename the key to citadel:backupz',
    ]);
  });

  it("passes the config's warnings on, each at its key as the stack file writes it, once", () => {
    const config = withKey("citadel:ops.firewall.adminSubnet", "10.0.0.0/8");
    config["aws:region"] = "eu-west-1";
    const { warnings } = loadLab(config);
    expect(warnings.map((w) => `${w.path}: ${w.message.split(";")[0]}`)).toEqual([
      'aws:region: nothing reads the namespace "aws" (the program reads citadel:, and Pulumi and its providers read pulumi:, docker:, command:, grafana:)',
      "citadel:ops.firewall.adminSubnet: 10.0.0.0/8 contains no host of the lab (citadel 192.168.10.29)",
    ]);
  });

  it("keeps a key's first problem only: a value that breaks its pattern is not also reported by the rules after it", () => {
    // x30d breaks the duration pattern, and its number (none) would also switch retention off.
    expect(verdict(withKey("citadel:ladon.prometheus.retentionTime", "x30d"))).toEqual([
      "citadel:ladon.prometheus.retentionTime: must be a duration in days, weeks or years, e.g. 30d",
    ]);
  });
});
