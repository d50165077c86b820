/** The one way a script file becomes a remote step: `hostScript`. */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { publishFile } from "./artifacts";
import type { HostTarget } from "./host";
import { contentHash, renderScript, wrapScript, type ParamValue } from "./shell";

export interface HostScriptArgs {
  /** The host it runs on. */
  host: HostTarget;
  /** Script path relative to `components/`, e.g. `host/scripts/grow-lvm.sh`. */
  script: string;
  /** Typed parameters, rendered as `export NAME='value'` before the script. @default {} */
  params?: Readonly<Record<string, ParamValue>>;
  /**
   * Secret parameters, fed on stdin and read by the script header, so they never enter the command
   * text, the logs or an error message. Any secret turns logging off and marks stdout/stderr secret.
   * @default {}
   */
  secrets?: Readonly<Record<string, pulumi.Input<string>>>;
  /**
   * `true`: the content hash is the command's trigger, so any change replaces (re-runs) it.
   * `false`: for `protect`ed steps, which Pulumi will not replace; a change to the script text is
   * then an in-place update, which re-runs `create` just the same.
   * @default true
   */
  replaceOnChange?: boolean;
}

/**
 * A step's secrets as its stdin, one line each in name order, as the script's prelude reads them
 * (`read -r`). A secret that spans lines would shift every secret after it onto the wrong name, so
 * it is refused, naming the step and never the value.
 */
export function secretStdin(step: string, values: readonly string[]): string {
  if (values.some((v) => v.includes("\n")))
    throw new Error(`a secret passed to ${step} spans lines; encode it first`);
  return values.map((v) => `${v}\n`).join("");
}

/** Turns a script file plus typed parameters into a `remote.Command` on `args.host`. */
export function hostScript(
  name: string,
  args: HostScriptArgs,
  opts: pulumi.CustomResourceOptions,
): command.remote.Command {
  const params = args.params ?? {};
  const secrets = args.secrets ?? {};
  const secretNames = Object.keys(secrets).sort();
  const text = renderScript(args.script, params, secretNames);
  publishFile(`${args.host.name}/commands/${name}.sh`, text);
  const carriesSecrets = secretNames.length > 0;
  const stdin = carriesSecrets
    ? pulumi.secret(
        pulumi
          .all(secretNames.map((n) => secrets[n] as pulumi.Input<string>))
          .apply((values) => secretStdin(name, values)),
      )
    : undefined;
  return new command.remote.Command(
    name,
    {
      connection: args.host.connection,
      create: wrapScript(text, args.host.sudo),
      // Its default (true) sends the previous stdout/stderr as SSH environment on every update,
      // which sshd refuses without AcceptEnv (pulumi-command v1.2.1 remote/commandController.go).
      addPreviousOutputInEnv: false,
      ...((args.replaceOnChange ?? true) ? { triggers: [contentHash(text)] } : {}),
      ...(carriesSecrets ? { stdin, logging: "none" } : {}),
    },
    carriesSecrets ? { ...opts, additionalSecretOutputs: ["stdout", "stderr"] } : opts,
  );
}

export interface LocalScriptArgs {
  /** Script path relative to `components/`. */
  script: string;
  /** Parameters; unlike host scripts they may be outputs of other steps. @default {} */
  params?: Readonly<Record<string, pulumi.Input<ParamValue>>>;
}

/** Runs a script file on the machine running pulumi (e.g. waiting for a host to come back). */
export function localScript(
  name: string,
  args: LocalScriptArgs,
  opts: pulumi.CustomResourceOptions,
): command.local.Command {
  const text = pulumi.output(args.params ?? {}).apply((params) => {
    const rendered = renderScript(args.script, params as Record<string, ParamValue>);
    publishFile(`local/commands/${name}.sh`, rendered);
    return rendered;
  });
  return new command.local.Command(
    name,
    {
      create: text.apply((t) => wrapScript(t, false)),
      triggers: [text.apply(contentHash)],
      addPreviousOutputInEnv: false,
    },
    opts,
  );
}
