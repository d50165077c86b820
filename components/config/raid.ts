/** mdadm RAID facts the schema and the plan share. Pure, and free of imports. */

/** The mdadm levels citadel creates: the redundant ones. */
export const RAID_LEVELS = [1, 5, 6, 10] as const;
export type RaidLevel = (typeof RAID_LEVELS)[number];

/**
 * Fewest members per level. mdadm refuses fewer than 4 for level 6 and fewer than 2 for levels 4
 * and up (Create.c@mdadm-4.3: "at least 4 raid-devices needed for level 6", "at least 2
 * raid-devices needed for level %d"), and a single drive without --force (mdadm.c@mdadm-4.3:
 * "'1' is an unusual number of drives"). Level 10's default layout is near=2 (Create.c@mdadm-4.3,
 * default_layout: 0x102), which needs no more copies than devices: 2 members suffice and odd
 * counts work, since md's RAID10 is not nested RAID1+0. Level 5 is held to 3, stricter than
 * mdadm's 2: a two-member RAID5 stores one member's worth of data like a mirror, at parity's cost;
 * declare level 1 for that.
 */
export const RAID_MIN_MEMBERS: Readonly<Record<RaidLevel, number>> = { 1: 2, 5: 3, 6: 4, 10: 2 };

/**
 * The usable bytes of an array whose members are each `memberBytes`: one member for RAID1, all but
 * one (RAID5) or two (RAID6), half of them for RAID10's two near copies. Ignores md's metadata and
 * chunk rounding (well under 1%).
 */
export function raidUsableBytes(level: RaidLevel, members: number, memberBytes: number): number {
  const dataMembers = { 1: 1, 5: members - 1, 6: members - 2, 10: members / 2 }[level];
  return Math.max(0, Math.floor(dataMembers * memberBytes));
}

/** When the monthly scrub starts by default: the first Sunday of the month at 01:00, as Ubuntu's own. */
export const DEFAULT_SCRUB_SCHEDULE = "Sun *-*-1..7 01:00:00";
