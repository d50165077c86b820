/** The committed lab config as a mutable object, for "change one thing" tests. */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

export const STACK_FILE = path.join(__dirname, "..", "..", "Pulumi.citadel.yaml");

/** A fresh deep copy of `Pulumi.citadel.yaml`'s `config:` map. */
export function labConfigMap(): Record<string, any> {
  return parse(readFileSync(STACK_FILE, "utf8")).config;
}

/** The citadel host entry inside a config map. */
export function citadelHost(config: Record<string, any>): any {
  return config["citadel:hosts"].citadel;
}

/** Adds the monitoring Raspberry Pi 4 from the planning notes as host `ladon` (no GPUs, no Docker). */
export function addMonitoringPi(config: Record<string, any>, address = "192.168.10.40"): void {
  config["citadel:hosts"].ladon = {
    address,
    ssh: { user: "pi", hostKey: citadelHost(config).ssh.hostKey },
    sudo: "passwordless",
    arch: "arm64",
    memoryGiB: 8,
  };
}
