/** The `citadel:ladon` section: the observability stack and its placement. */
import { z } from "zod";
import { PINS, type PinName } from "../pins";
import { SIZE_PATTERN } from "./units";

/**
 * The LadonStack's services, by name: every pin but vLLM's, in the pins' order (each has its module
 * in components/plan/services/). Read from the pins, since config imports nothing above it.
 */
const LADON_SERVICES = (Object.keys(PINS) as PinName[]).filter((n) => n !== "vllm") as [
  Exclude<PinName, "vllm">,
  ...Exclude<PinName, "vllm">[],
];

const example = (value: unknown) => ({ example: value });
const Name = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, { error: "must be lower-case letters, digits and -" });

const WebhookReceiver = z.strictObject({
  name: Name.meta(example("hades")),
  url: z
    .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
    .meta(example("http://192.168.10.30:5001/alerts")),
});

const EmailReceiver = z.strictObject({
  name: Name.meta(example("ops-mail")),
  to: z.email().meta(example("ops@hana-x.lab")),
  from: z.email().meta(example("ladon@hana-x.lab")),
  /** host:port of the SMTP relay. */
  smarthost: z
    .string()
    .regex(/^[A-Za-z0-9.-]+:\d+$/, { error: "must be host:port" })
    .meta(example("smtp.hana-x.lab:587")),
  /** SMTP user; its password is the secret citadel:alertmanagerSmtpPassword. @default none */
  authUsername: z.string().min(1).optional().meta(example("ladon")),
  /** @default true */
  requireTls: z.boolean().default(true).meta(example(true)),
});

/**
 * A ratio an alert compares a measured fraction against. The measured fraction lies in [0, 1]
 * (a GPU's draw is held at its enforced power limit by the driver), so a threshold at or beyond
 * either end gives an alert that can never fire (above: `x > 1`) or always fires.
 */
const ratio = (what: string, fallback: number) =>
  z
    .number()
    .gt(0, { error: `must be above 0; ${what}` })
    .lt(1, {
      error: `must be below 1: the measured fraction never exceeds 1, so the alert could never fire; ${what}`,
    })
    .default(fallback)
    .meta(example(fallback));

const Thresholds = z
  .strictObject({
    /** @default 85 */
    gpuTemperatureCelsius: z.number().positive().default(85).meta(example(85)),
    /** Fraction of the enforced power limit, which the driver holds the draw to. @default 0.95 */
    gpuPowerRatio: ratio("a fraction of the enforced power limit such as 0.95", 0.95),
    /** Outside vLLM, whose reservation is expected to be high. @default 0.97 */
    gpuMemoryRatio: ratio("a fraction of the GPU's memory such as 0.97", 0.97),
    /** @default 5 */
    ttftP95Seconds: z.number().positive().default(5).meta(example(5)),
    /** @default 5 */
    requestsWaiting: z.number().int().positive().default(5).meta(example(5)),
    /** @default 0.95 */
    kvCacheRatio: ratio("a fraction of the KV cache such as 0.95", 0.95),
    /**
     * Free fraction of a VG below which it is "nearly full", or `off` for a VG that is meant to be
     * full (an LV of `all-free`). @default 0.02
     */
    vgFreeRatio: z
      .union([z.literal("off"), z.number()])
      .refine((v) => v === "off" || (v > 0 && v < 1), {
        error: (i) =>
          i.input === 0
            ? "0 switches the alert off without saying so; write off to switch it off, or a fraction such as 0.02"
            : "must be a fraction between 0 and 1 such as 0.02, or off",
      })
      .default(0.02)
      .meta(example(0.02)),
    /** Free fraction of a filesystem (Prometheus, Loki data) below which it is "nearly full". @default 0.1 */
    diskFreeRatio: ratio("a fraction of the filesystem such as 0.1", 0.1),
    /** @default 26 */
    backupMaxAgeHours: z.number().positive().default(26).meta(example(26)),
  })
  .prefault({});

/** The number of a duration such as "30d", "744h" or "30s". */
const amount = (v: string) => Number(/^\d+/.exec(v)?.[0] ?? "NaN");

export const LadonSchema = z.strictObject({
  /** Host that runs the stack; exporters and Alloy run on every host they measure. @default "citadel" */
  host: z.string().default("citadel").meta(example("citadel")),
  /** Persistent data of every service, on a declared mount. @default "/srv/data/ladon" */
  dataDir: z
    .string()
    .regex(/^\/[A-Za-z0-9._/-]+$/, { error: "must be an absolute path" })
    .default("/srv/data/ladon")
    .meta(example("/srv/data/ladon")),
  prometheus: z
    .strictObject({
      /** @default "30d" */
      retentionTime: z
        .string()
        .regex(/^\d+[dwy]$/, { error: "must be a duration in days, weeks or years, e.g. 30d" })
        // With a size limit set, a time of 0 keeps data until the size limit alone: only when both
        // are 0 does the default 15d apply (cmd/prometheus/main.go@v3.14.0, the newest tag readable
        // here; the pinned v3.16.0 was not, so recheck on a bump).
        .refine((v) => amount(v) > 0, {
          error: (i) =>
            `${String(i.input)} switches Prometheus's time retention off (data would be kept until retentionSize alone); use a duration such as 30d`,
        })
        .default("30d")
        .meta(example("30d")),
      /** Whichever limit is reached first applies. @default "50GiB" */
      retentionSize: z
        .string()
        .regex(SIZE_PATTERN, { error: "must be a size such as 50GiB" })
        .default("50GiB")
        .meta(example("50GiB")),
      /** @default "30s" */
      scrapeInterval: z
        .string()
        .regex(/^\d+[sm]$/, { error: "must be seconds or minutes, e.g. 30s" })
        // Prometheus replaces a global scrape_interval of 0 with its default of 1m without a word
        // (config/config.go@v3.14.0, GlobalConfig.UnmarshalYAML; the newest tag readable here, the
        // pinned v3.16.0 was not); the alert rules' shortest rate
        // window is 5m (rules.ts), which needs two samples, so 150s is the longest that works.
        .refine((v) => amount(v) > 0, {
          error: (i) =>
            `${String(i.input)} is no interval: Prometheus silently scrapes every 1m instead; use a duration such as 30s`,
        })
        .refine((v) => amount(v) * (v.endsWith("m") ? 60 : 1) <= 150, {
          error: (i) =>
            `${String(i.input)} is longer than 150s: the alert rules' 5m rate windows need two samples each, so they would never fire; use 30s`,
        })
        .default("30s")
        .meta(example("30s")),
    })
    .prefault({}),
  loki: z
    .strictObject({
      /** Enforced by the compactor. @default "744h" (31 days) */
      retentionPeriod: z
        .string()
        .regex(/^\d+h$/, { error: "must be hours, e.g. 744h" })
        // "a zero value of 0 or 0s disables retention" (-store.retention, pkg/validation/limits.go@v3.7.6
        // and main of 2026-08; the pinned v3.7.8 tag was not readable here).
        .refine((v) => amount(v) > 0, {
          error: (i) =>
            `${String(i.input)} switches Loki's retention off (logs would be kept forever); use hours such as 744h`,
        })
        .default("744h")
        .meta(example("744h")),
      /** Expected log volume per day, to check retention against the volume. @default "1GiB" */
      expectedDailyIngest: z
        .string()
        .regex(SIZE_PATTERN, { error: "must be a size such as 1GiB" })
        .default("1GiB")
        .meta(example("1GiB")),
    })
    .prefault({}),
  grafana: z
    .strictObject({
      /** URL the Grafana provider uses. @default http://<stack host address>:9900 */
      url: z
        .url({ protocol: /^https?$/ })
        .optional()
        .meta(example("http://192.168.10.29:9900")),
    })
    .prefault({}),
  alertmanager: z
    .strictObject({
      /** @default [] */
      webhooks: z.array(WebhookReceiver).default([]),
      /** @default [] */
      emails: z.array(EmailReceiver).default([]),
    })
    .prefault({}),
  phoenix: z
    .strictObject({
      /** @default 30 */
      retentionDays: z.number().int().min(1).max(3650).default(30).meta(example(30)),
      /**
       * The Phoenix project HADES (the lab's RAG pipeline) traces into; it gets its own system API
       * key, exported as the secret stack output `hades`. @default "hades"
       */
      hadesProject: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
          error: "must be a project name of letters, digits, . _ - (no / ? #: it is part of a URL)",
        })
        .default("hades")
        .meta(example("hades")),
    })
    .prefault({}),
  /** Memory limit overrides in MiB, by service. @default {} */
  memoryMiB: z
    .partialRecord(z.enum(LADON_SERVICES), z.number().int().min(32))
    .default({})
    .meta(example({ prometheus: 1024 })),
  /** RAM kept free for the host itself when checking containers' memory limits. @default 2 */
  headroomGiB: z.number().min(0).default(2).meta(example(2)),
  thresholds: Thresholds,
});

export type LadonConfig = z.output<typeof LadonSchema>;
export type Thresholds = LadonConfig["thresholds"];
