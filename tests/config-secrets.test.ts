/**
 * Which secrets a lab needs (components/config/secrets.ts `required`), as an operator meets it:
 * each missing one named at its key with the command that sets it, and none asked for that the lab
 * does not use. Pure and fast (no synthesis), from the committed stack with sections changed.
 */
import { SECRETS, setSecretCommand } from "../components/config/secrets";
import { addMonitoringPi, LAB_SECRETS, labConfigMap } from "./support/lab";
import { verdict, withKey, type ConfigMap } from "./support/verdict";

/** The secrets the config checks say are missing when the stack sets none. */
const missing = (config: ConfigMap): string[] => {
  const problems = verdict(config, []);
  if (problems === "accepted") return [];
  return problems
    .filter((p) => p.includes("required secret is not set"))
    .map((p) => p.slice("citadel:".length, p.indexOf(": ")))
    .sort();
};

const ladonSecrets = [
  "alertmanagerPassword",
  "grafanaAdminPassword",
  "phoenixAdminPassword",
  "phoenixSecret",
  "prometheusPassword",
];

describe("the secrets a lab needs", () => {
  it("the committed lab: vLLM's key, the stack's five and restic's, not SSH's, SMTP's or Hugging Face's", () => {
    expect(missing(labConfigMap())).toEqual([...ladonSecrets, "resticPassword", "vllmApiKey"].sort());
  });

  it("drops the stack's with the stack, restic's with the backups and vLLM's with vLLM", () => {
    expect(missing(withKey("citadel:ladon", undefined))).toEqual(["resticPassword", "vllmApiKey"]);
    expect(missing(withKey("citadel:ops.backups", undefined))).toEqual(
      [...ladonSecrets, "vllmApiKey"].sort(),
    );
    const noVllm = withKey("citadel:vllm", undefined);
    expect(missing(noVllm)).toEqual([...ladonSecrets, "resticPassword"].sort());
  });

  it("asks for the SSH key when any host connects with one", () => {
    const config = withKey("citadel:hosts.citadel.ssh.auth", "privateKey");
    expect(missing(config)).toContain("sshPrivateKey");
    addMonitoringPi(config, "192.168.10.40");
    expect(missing(config)).toContain("sshPrivateKey");
    expect(missing(labConfigMap())).not.toContain("sshPrivateKey");
  });

  it("refuses a secret stored in plaintext and a plain key stored as a secret, each with its fix", () => {
    const plain = labConfigMap();
    plain["citadel:vllmApiKey"] = "abc";
    expect(
      verdict(
        plain,
        LAB_SECRETS.filter((k) => k !== "vllmApiKey"),
      ),
    ).toEqual([
      'citadel:vllmApiKey: is stored in plaintext; remove it with `pulumi config rm citadel:vllmApiKey` and set it again with `pulumi config set --secret citadel:vllmApiKey "$(openssl rand -hex 32)"`',
    ]);
    expect(verdict(labConfigMap(), [...LAB_SECRETS, "ops"])).toContain(
      "citadel:ops: is stored as a secret but is not one; set it in plaintext with `pulumi config set --path citadel:ops ...`",
    );
  });

  it("asks for the SMTP password only when an e-mail receiver logs in", () => {
    const email = {
      name: "ops-mail",
      to: "ops@hana-x.lab",
      from: "ladon@hana-x.lab",
      smarthost: "smtp.lab:587",
    };
    expect(missing(withKey("citadel:ladon.alertmanager.emails", [email]))).not.toContain(
      "alertmanagerSmtpPassword",
    );
    expect(
      missing(withKey("citadel:ladon.alertmanager.emails", [{ ...email, authUsername: "ladon" }])),
    ).toContain("alertmanagerSmtpPassword");
  });

  it("asks for the Hugging Face token for a gated model, naming the server and the model's terms page", () => {
    const config = labConfigMap();
    const servers = config["citadel:vllm"].servers;
    servers.chat.model = "meta-llama/Llama-3.1-8B-Instruct";
    const problems = verdict(config, []);
    const token = SECRETS.find((s) => s.key === "huggingfaceToken")!;
    expect(problems).toContain(
      `citadel:huggingfaceToken: required secret is not set: vllm.servers.chat.model meta-llama/Llama-3.1-8B-Instruct is gated on Hugging Face, so vLLM can download it only with the token of an account that accepted its terms (https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct); accept them, then run \`${setSecretCommand(token)}\``,
    );
    expect(missing(labConfigMap())).not.toContain("huggingfaceToken");
    // The other missing secrets keep their own message.
    expect(problems).toContain(
      `citadel:vllmApiKey: required secret is not set (API key clients send to vLLM's OpenAI API (Authorization: Bearer)); run \`pulumi config set --secret citadel:vllmApiKey "$(openssl rand -hex 32)"\``,
    );
  });

  it("names the command that sets each one", () => {
    const problems = verdict(labConfigMap(), []);
    const vllm = SECRETS.find((s) => s.key === "vllmApiKey")!;
    expect(problems).toContain(
      `citadel:vllmApiKey: required secret is not set (API key clients send to vLLM's OpenAI API (Authorization: Bearer)); run \`pulumi config set --secret citadel:vllmApiKey "$(openssl rand -hex 32)"\``,
    );
    expect(setSecretCommand(vllm)).toBe(
      'pulumi config set --secret citadel:vllmApiKey "$(openssl rand -hex 32)"',
    );
  });
});
