import type { ResourceValidationPolicy } from "@pulumi/policy";
import { TYPES } from "../lib/resources";

const HOST_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}$/;

export const requirePinnedHostKeys: ResourceValidationPolicy = {
  name: "require-pinned-host-keys",
  description:
    "Every remote command pins the host's SSH key, because without it any machine answering on the address receives root commands and the secrets they carry.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (![TYPES.remoteCommand, TYPES.copyToRemote, TYPES.copyFile].includes(args.type as never)) return;
    const connection = args.props.connection ?? {};
    const key = connection.hostKey;
    if (typeof key !== "string" || !HOST_KEY.test(key)) {
      report(
        `${args.name} connects to ${connection.host ?? "its host"} without a pinned host key; set hosts.<name>.ssh.hostKey from ssh-keyscan.`,
      );
    }
  },
};
