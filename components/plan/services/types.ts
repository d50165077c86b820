/** What a LadonStack service is: the facts one service module (components/plan/services/) holds. */

import type { PinName } from "../../pins";
import type { ContainerInput, ContainerPlan } from "./container";

/** Every pinned image but vLLM's is a LadonStack service. */
export type ServiceName = Exclude<PinName, "vllm">;

export interface ServiceSpec {
  /** Container name, also its DNS name on the lab network. */
  container: string;
  /** Pinned image, from the one catalog of pins (components/pins.ts). */
  image: string;
  /** Architectures the image is published for (multi-arch manifests). */
  arches: readonly ("amd64" | "arm64")[];
  /** Container port -> host port, every host port in 9900-9999. */
  ports: Readonly<Record<string, { container: number; host: number }>>;
  /** Default memory limit in MiB. */
  memoryMiB: number;
  /** Where it runs: with the stack, or on every host it measures. */
  placement: "stack" | "everyHost" | "gpuHosts";
  /** UID the process runs as, which must own its data directory. */
  uid: number;
  /** Container port of its Prometheus metrics endpoint. */
  metricsPort: number;
  /**
   * It runs on its host's network, not the lab network: it listens on its host port directly, and
   * the stack's Prometheus scrapes it by the host's address. @default false
   */
  hostNetwork?: boolean;
}

/**
 * The access model's terms (components/plan/access.ts derives the firewall, the port bindings and
 * the protect-data-changing-ports policy from them).
 */
/**
 * Who reaches a port from outside its host:
 * - `admin`: people and tools on the admin subnet (browsers, `npm run assess`);
 * - `hades`: the lab's RAG pipeline, from `ops.firewall.hadesSubnet`;
 * - `stack`: the stack host's Prometheus, scraping a host that is not the stack host (on the stack
 *   host it scrapes by container name on the lab network; a host-network exporter there is reached
 *   from the Docker subnets);
 * - `pushers`: the other lab hosts that push to the stack (Alloy's logs to Loki, vLLM's traces to Phoenix).
 * A port with no audience left on a host is published on 127.0.0.1 only: the host's own steps and
 * probes reach it, no other machine does.
 */
export type Audience = "admin" | "hades" | "stack" | "pushers";

/** How a port authenticates requests. */
export type Auth =
  "none" | "basic auth (web config)" | "Grafana login" | "Phoenix login or API key" | "API key";

export interface PortAccess {
  /** Who needs it from outside its host; empty: nobody. */
  from: readonly Audience[];
  /** What a request can change or delete, when it can; undefined: it only reads. */
  writes?: string;
  /** How requests are authenticated. */
  auth: Auth;
}

/** A service as its module declares it: its spec, and what the checks and backups need of it. */
export interface ServiceDef extends ServiceSpec {
  /** Its key in the catalog and in the pins (components/pins.ts). */
  name: ServiceName;
  /**
   * Its readiness endpoint: the path, on the container port named `port`, that answers 200 once
   * it serves. The conformance tier waits on it. @default none (not started by the conformance tier)
   */
  ready?: { path: string; port: string };
  /**
   * What a backup keeps of its data directory (only on the stack's host): the directory itself, the
   * SQLite databases in it (copied with .backup first), and for Prometheus a TSDB snapshot through
   * its API; `what` says what a restore brings back (the restore runbook, components/ops/runbook.ts).
   * @default none (nothing of it is backed up)
   */
  backup?: { what: string; sqlite?: readonly string[]; snapshot?: boolean };
  /**
   * The path on its `http` host port that answers 200 when it is up, which `npm run validate`'s and
   * the drift timer's probe ask (components/ops/probe.ts), and the host's netrc when it asks for a
   * login. @default none (the probe does not ask it)
   */
  health?: { path: string; netrc?: string };
  /** Its Prometheus scrape job name. */
  job: string;
  /** The access model for each of its ports, by the port's name in `ports`. */
  access: Readonly<Record<string, PortAccess>>;
  /**
   * Its container on one host: command, environment, volumes, healthcheck, user, and the config
   * and secret files it reads. Pure; components/ladon/containers.ts hands it what only the
   * component layer has (rendered config files, published ports) as plain data.
   */
  containerPlan: (input: ContainerInput) => ContainerPlan;
  /**
   * Environment variables whose values are the lab's secrets: variable name -> the secret's key
   * (`citadel:<key>`), which components/ladon/stack.ts reads. @default none
   */
  secretEnvs?: Readonly<Record<string, string>>;
}
