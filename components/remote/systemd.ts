/** systemd unit files from typed sections, so units are data and `systemd-analyze verify` checks them. Pure. */

export type UnitSections = [section: string, entries: [key: string, value: string][]][];

export function renderUnit(sections: UnitSections): string {
  return `${sections
    .map(([section, entries]) => {
      for (const [k, v] of entries) {
        if (!/^[A-Za-z][A-Za-z0-9]*$/.test(k) || v.includes("\n"))
          throw new Error(`bad unit entry ${k}=${v}`);
      }
      return [`[${section}]`, ...entries.map(([k, v]) => `${k}=${v}`)].join("\n");
    })
    .join("\n\n")}\n`;
}

/**
 * A oneshot service and the timer that starts it: every `everySec` after boot, or on a calendar.
 * Only a calendar timer is `Persistent=true`, catching up a run missed while the host was off:
 * "this setting only has an effect on timers configured with OnCalendar=" (systemd.timer(5),
 * systemd 255 on Ubuntu 24.04). A monotonic timer runs `onBootSec` after every boot instead.
 */
export function timerUnits(opts: {
  description: string;
  execStart: string;
  onBootSec?: string;
  everySec?: string;
  onCalendar?: string;
  idle?: boolean;
  /**
   * Paths the job reads or writes data under: the service requires and starts after their mounts
   * (`RequiresMountsFor=`, systemd.unit(5)), so a `nofail` disk that is not mounted fails the run
   * instead of letting it write to the root disk. @default []
   */
  requiresMountsFor?: string[];
}): {
  service: string;
  timer: string;
} {
  return {
    service: renderUnit([
      [
        "Unit",
        [
          ["Description", opts.description],
          ...(opts.requiresMountsFor?.length
            ? ([["RequiresMountsFor", [...new Set(opts.requiresMountsFor)].sort().join(" ")]] as [
                string,
                string,
              ][])
            : []),
        ],
      ],
      [
        "Service",
        [
          ["Type", "oneshot"],
          ["ExecStart", opts.execStart],
          ...((opts.idle ?? true)
            ? ([
                ["Nice", "10"],
                ["IOSchedulingClass", "idle"],
              ] as [string, string][])
            : []),
        ],
      ],
    ]),
    timer: renderUnit([
      ["Unit", [["Description", `Run: ${opts.description}`]]],
      [
        "Timer",
        [
          ...(opts.onCalendar
            ? ([
                ["OnCalendar", opts.onCalendar],
                ["Persistent", "true"],
              ] as [string, string][])
            : ([
                ["OnBootSec", opts.onBootSec ?? "5min"],
                ["OnUnitActiveSec", opts.everySec ?? "1h"],
              ] as [string, string][])),
        ],
      ],
      ["Install", [["WantedBy", "timers.target"]]],
    ]),
  };
}
