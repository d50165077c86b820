/** How the program reaches a host over SSH. */
import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";
import type { HostConfig } from "../config";

/** Everything a remote step needs to reach one host. */
export interface HostTarget {
  /** Host name from config (the key under `citadel:hosts`). */
  name: string;
  config: HostConfig;
  /** Connection with the host key pinned and dial retries. */
  connection: command.types.input.remote.ConnectionArgs;
  /** Whether commands run through `sudo -n`. */
  sudo: boolean;
}

/**
 * Dial retries. pulumi-command v1.2.1 retries a host-key mismatch like any dial error, with waits
 * growing to 5 s, so 40 tries made a wrong pinned key cost 210 s per step before it failed (the
 * e2e tier measured it). A reboot does not need them: the local wait step (wait-for-reboot.sh)
 * waits for SSH with its own timeout before any later step dials. 10 tries still ride out a
 * flapping link for about half a minute, and a wrong key fails within a minute.
 */
export const DIAL_ERROR_LIMIT = 10;
export const PER_DIAL_TIMEOUT_SECONDS = 15;

/**
 * The SSH connection for a host. The host key is always pinned: a host that answers with any
 * other key is refused before a command is sent. Without a private key, SSH_AUTH_SOCK is used.
 */
export function hostTarget(name: string, config: HostConfig, privateKey?: pulumi.Output<string>): HostTarget {
  if (config.ssh.auth === "privateKey" && privateKey === undefined) {
    throw new Error(`host ${name} uses ssh.auth: privateKey but no citadel:sshPrivateKey secret was loaded`);
  }
  return {
    name,
    config,
    sudo: config.sudo === "passwordless",
    connection: {
      host: config.address,
      port: config.ssh.port,
      user: config.ssh.user,
      hostKey: config.ssh.hostKey,
      dialErrorLimit: DIAL_ERROR_LIMIT,
      perDialTimeout: PER_DIAL_TIMEOUT_SECONDS,
      ...(config.ssh.auth === "privateKey"
        ? { privateKey: pulumi.secret(privateKey as pulumi.Output<string>) }
        : {}),
    },
  };
}
