import type { ResourceValidationPolicy } from "@pulumi/policy";
import { TYPES } from "../lib/resources";

/** Commands that format disks, create RAID arrays or change LVM. */
export const STORAGE_COMMAND =
  /\bmkfs(\.\w+)?\b|\bmdadm\s+--create\b|\blvextend\b|\blvresize\b|\bvgextend\b|\bpvcreate\b|\bresize2fs\b|\bxfs_growfs\b/;
/** What a delete script must never run. */
const DESTRUCTIVE =
  /\bmkfs(\.\w+)?\b|\bwipefs\b|\bmdadm\b[^\n]*--(zero-superblock|stop|fail|remove)\b|\blvremove\b|\bvgremove\b|\bpvremove\b|\blvreduce\b|\bdd\s+if=|\bsgdisk\b|\bparted\b|\brm\s+-[a-z]*r[a-z]*f?\s+\/srv/;

export const protectStorageCommands: ResourceValidationPolicy = {
  name: "protect-storage-commands",
  description:
    "Commands that format disks or change LVM are protected, kept on delete and have no delete script that destroys data, because removing one from the program must never wipe a disk.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== TYPES.remoteCommand) return;
    const create = String(args.props.create ?? "");
    const del = String(args.props.delete ?? "");
    if (DESTRUCTIVE.test(del))
      report(`command ${args.name} has a delete script that destroys data; remove it.`);
    if (!STORAGE_COMMAND.test(create)) return;
    if (!args.opts.protect)
      report(`command ${args.name} formats disks or changes LVM but is not protected; set protect: true.`);
    // Newer engines report retainOnDelete; when they do, it must be on.
    const retain = (args.opts as { retainOnDelete?: boolean }).retainOnDelete;
    if (retain === false)
      report(
        `command ${args.name} formats disks or changes LVM but is not retained on delete; set retainOnDelete: true.`,
      );
  },
};
