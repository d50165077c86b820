/** The `citadel:ops` section: backups, the firewall, post-deploy validation and the LLM baseline. */
import { z } from "zod";
import { calendarProblem } from "./calendar";

const example = (value: unknown) => ({ example: value });

/** An IPv4 address as a 32-bit number. */
export function ipv4ToNumber(address: string): number {
  return address.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}

/** The subnet with its host bits cleared: 192.168.10.29/24 is 192.168.10.0/24. */
export function normaliseCidr(cidr: string): string {
  const [address, bits] = cidr.split("/") as [string, string];
  const prefix = Number(bits);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (ipv4ToNumber(address) & mask) >>> 0;
  return `${[24, 16, 8, 0].map((s) => (network >>> s) & 255).join(".")}/${prefix}`;
}

/** Whether an IPv4 address lies in a subnet. */
export function cidrContains(cidr: string, address: string): boolean {
  const [, bits] = cidr.split("/") as [string, string];
  const prefix = Number(bits);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return (ipv4ToNumber(address) & mask) >>> 0 === ipv4ToNumber(normaliseCidr(cidr).split("/")[0]!);
}

const Cidr = z
  .string()
  .regex(/^(\d{1,3}\.){3}\d{1,3}\/(\d|[12]\d|3[0-2])$/, {
    error: "must be an IPv4 subnet such as 192.168.10.0/24",
  })
  .refine(
    (v) =>
      v
        .split("/")[0]!
        .split(".")
        .every((o) => Number(o) <= 255),
    { error: "has an octet above 255" },
  )
  // ufw takes the subnet as written; one with host bits is an address typed where a network was meant.
  .refine((v) => normaliseCidr(v) === v, {
    error: (i) =>
      `${String(i.input)} has host bits set; the subnet is ${normaliseCidr(String(i.input))}, so write that`,
  })
  .meta(example("192.168.10.0/24"));

/** A systemd OnCalendar= expression that systemd parses, that recurs and that elapses (calendar.ts). */
export const OnCalendar = z
  .string()
  .superRefine((value, ctx) => {
    const problem = calendarProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .meta(example("*-*-* 03:15:00"));

export const OpsSchema = z.strictObject({
  backups: z
    .strictObject({
      /** Host whose data is backed up (the LadonStack's). @default "citadel" */
      host: z.string().default("citadel").meta(example("citadel")),
      /** restic repository, on the backup disk. @default "/srv/backup/restic" */
      repository: z
        .string()
        .regex(/^(\/|sftp:|rest:|s3:)[^\s]*$/, {
          error: "must be an absolute path or a restic repository URL",
        })
        .default("/srv/backup/restic")
        .meta(example("/srv/backup/restic")),
      /** @default "*-*-* 03:15:00" */
      schedule: OnCalendar.default("*-*-* 03:15:00"),
      /** forget --prune. @default "Sun *-*-* 04:30:00" */
      pruneSchedule: OnCalendar.default("Sun *-*-* 04:30:00"),
      /** restic check. @default "Sun *-*-* 05:30:00" */
      checkSchedule: OnCalendar.default("Sun *-*-* 05:30:00"),
      keep: z
        .strictObject({
          /** @default 7 */
          daily: z.number().int().min(1).max(366).default(7).meta(example(7)),
          /** @default 4 */
          weekly: z.number().int().min(0).max(520).default(4).meta(example(4)),
          /** @default 6 */
          monthly: z.number().int().min(0).max(240).default(6).meta(example(6)),
        })
        .prefault({}),
      /** More host paths to back up. @default [] */
      extraPaths: z
        .array(z.string().regex(/^\/[A-Za-z0-9._/-]+$/, { error: "must be an absolute path" }))
        .default([]),
    })
    .optional(),
  firewall: z
    .strictObject({
      /** Where SSH is allowed from; must contain the machine running pulumi. */
      adminSubnet: Cidr,
      /**
       * The lab's subnet. No port that can change data is open to all of it without
       * authentication (the access model, components/plan/access.ts).
       */
      labSubnet: Cidr,
      /**
       * Acknowledges an adminSubnet of 0.0.0.0/0, which lets SSH in from anywhere; refused
       * without it. @default false
       */
      adminFromAnywhere: z.boolean().default(false).meta(example(true)),
      /** Where HADES (the lab's RAG pipeline) runs: it reaches vLLM and Phoenix. @default labSubnet */
      hadesSubnet: Cidr.optional(),
    })
    .optional(),
  /** Run `npm run validate` as the last step of `pulumi up`. @default false */
  validateAfterDeploy: z.boolean().default(false).meta(example(true)),
  baseline: z
    .strictObject({
      /** @default 512 */
      inputLen: z.number().int().min(1).default(512).meta(example(512)),
      /** @default 128 */
      outputLen: z.number().int().min(1).default(128).meta(example(128)),
      /** @default 200 */
      numPrompts: z.number().int().min(1).default(200).meta(example(200)),
      /** Requests per second the benchmark offers. @default 4 */
      requestRate: z.number().positive().default(4).meta(example(4)),
      /** @default 8 */
      maxConcurrency: z.number().int().min(1).default(8).meta(example(8)),
      /** How much worse than the recorded baseline a run may be, as a fraction. @default 0.15 */
      regressionMargin: z.number().min(0).max(5).default(0.15).meta(example(0.15)),
    })
    .prefault({}),
});

export type OpsConfig = z.output<typeof OpsSchema>;
export type BackupsConfig = NonNullable<OpsConfig["backups"]>;
export type FirewallConfig = NonNullable<OpsConfig["firewall"]>;
