/**
 * Runs one rendered host script over SSH for the operator tools (`npm run validate`,
 * `npm run baseline`): the host key pinned from the stack config, no password prompts, and
 * passwordless sudo when the user is not root.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { LabConfig } from "../components/config";
import { wrapScript } from "../components/remote";
import { LabUnreachableError } from "./cli";

export interface RunOptions {
  timeoutMs: number;
  /** Let the script's stderr through to the terminal as it happens (a long benchmark's progress). */
  progress?: boolean;
}

/**
 * Returns the script's stdout; throws naming the host and why when it cannot run or fails, a
 * `LabUnreachableError` when SSH itself could not get through.
 */
export function runOnHost(lab: LabConfig, name: string, script: string, opts: RunOptions): string {
  const host = lab.hosts[name] as LabConfig["hosts"][string];
  const dir = mkdtempSync(path.join(tmpdir(), "citadel-ssh-"));
  const knownHosts = path.join(dir, "known_hosts");
  const target = host.ssh.port === 22 ? host.address : `[${host.address}]:${host.ssh.port}`;
  writeFileSync(knownHosts, `${target} ${host.ssh.hostKey}\n`);
  try {
    const run = spawnSync(
      "ssh",
      [
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
        "-o",
        "ConnectTimeout=15",
        "-p",
        String(host.ssh.port),
        `${host.ssh.user}@${host.address}`,
        wrapScript(script, host.sudo === "passwordless"),
      ],
      {
        encoding: "utf8",
        timeout: opts.timeoutMs,
        stdio: ["ignore", "pipe", opts.progress ? "inherit" : "pipe"],
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    if (run.status !== 0) {
      const why = (run.stderr || run.error?.message || `exit ${String(run.status)}, see above`).trim();
      // ssh(1), EXIT STATUS: "ssh exits with the exit status of the remote command or with 255 if
      // an error occurred": 255 is ssh's own failure (connect, host key, auth), not the script's.
      if (run.status === 255) throw new LabUnreachableError(`cannot reach ${name} (${host.address}): ${why}`);
      throw new Error(`${name} (${host.address}): ${why}`);
    }
    return run.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
