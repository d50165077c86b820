/** The committed lab config as a mutable object, for "change one thing" tests. */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

export const STACK_FILE = path.join(__dirname, "..", "..", "Pulumi.citadel.yaml");

/** The example stack of the monitoring Pi: its HAT's SSDs in RAID10 under the LadonStack. */
export const PI_STACK_FILE = path.join(__dirname, "..", "..", "examples", "Pulumi.monitoring-pi.yaml");

/** A fresh deep copy of the monitoring Pi example's `config:` map. */
export function piConfigMap(): Record<string, any> {
  return parse(readFileSync(PI_STACK_FILE, "utf8")).config;
}

/** The Pi's array in a config map of the Pi example. */
export function piRaid(config: Record<string, any>, index = 0): any {
  return config["citadel:hosts"].pi.storage.raids[index];
}

/** The secrets the Pi example requires (no vLLM, so no API key). */
export const PI_SECRETS = [
  "alertmanagerPassword",
  "grafanaAdminPassword",
  "phoenixAdminPassword",
  "phoenixSecret",
  "prometheusPassword",
  "resticPassword",
];

/** A fresh deep copy of `Pulumi.citadel.yaml`'s `config:` map. */
export function labConfigMap(): Record<string, any> {
  return parse(readFileSync(STACK_FILE, "utf8")).config;
}

/** The citadel host entry inside a config map. */
export function citadelHost(config: Record<string, any>): any {
  return config["citadel:hosts"].citadel;
}

/**
 * Adds the monitoring Raspberry Pi 4 from the planning notes as host `pi` (arm64, 8 GiB, no GPUs).
 * With `docker`, it gets Docker and a data disk, so the LadonStack can be placed on it.
 */
export function addMonitoringPi(
  config: Record<string, any>,
  address = "192.168.10.40",
  docker = false,
): void {
  config["citadel:hosts"].pi = {
    address,
    ssh: { user: "pi", hostKey: citadelHost(config).ssh.hostKey },
    sudo: "passwordless",
    arch: "arm64",
    memoryGiB: 8,
    ...(docker
      ? {
          storage: {
            disks: [{ device: "/dev/sda", label: "ladon", mountPoint: "/srv/ladon", size: "1TiB" }],
          },
          docker: { version: "28.5.2", dataRoot: "/srv/ladon/docker" },
        }
      : {}),
  };
}

/** The secrets the committed lab requires, as a stack that has them set holds them. */
export const LAB_SECRETS = [...PI_SECRETS, "vllmApiKey"].sort();

/**
 * A value for a secret that keeps every rule of its (components/config/secrets.ts `rules`): ASCII
 * without spaces, digits and lowercase letters, 30 to 60 characters, and distinct per key.
 */
export function goodSecretValue(key: string): string {
  return `secret-value-of-${key}-0123456789abcdef`;
}
