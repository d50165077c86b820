/**
 * The OnCalendar parser against the real `systemd-analyze calendar`: on every specification of the
 * corpus, both accept or both refuse, and a recurring one that systemd says never elapses is
 * refused by citadel too.
 */
import { spawnSync } from "node:child_process";
import { calendarProblem, everElapses, formatCalendar, parseCalendar } from "../components/config/calendar";

const CORPUS = [
  // Forms the lab and its docs use.
  "*-*-* 03:15:00",
  "Sun *-*-* 04:30:00",
  "Sun *-*-* 05:30:00",
  "Sun *-*-1..7 01:00:00",
  // Weekdays: names, case, lists, ranges (.. and the old -), open and backwards ranges.
  "Mon-Fri 10:00",
  "mon..fri 10:00",
  "MON 10:00",
  "Monday 10:00",
  "Mon,Fri *-*-* 10:00",
  "Mon,Wed,Fri",
  "Mon,",
  "Sat..Mon",
  "Mon..Mon",
  "Mon..",
  "Mond 10:00",
  "Mo 10:00",
  "Sun",
  "Fri..Sun 23:59",
  // Dates: parts, wildcards, lists, ranges, repetitions, end of month, years.
  "*-*-1..7 1:0",
  "*-*-*/2 03:00",
  "*-*-1/2 03:00",
  "*-13-01",
  "*-00-01",
  "*-*-00",
  "*-*-32",
  "*-02-30",
  "*-02-29",
  "*-04-31",
  "*-*-31",
  "*-*~1",
  "*-02~03",
  "*-02~31",
  "02~03",
  "*~02-03",
  "12-06",
  "*-1,3,5-1",
  "2026-*-* 00:00",
  "1969-01-01",
  "2199-01-01",
  "2200-01-01",
  "69-01-01",
  "70-01-01",
  "01-01-01",
  "*-*-*",
  "*-*-* ",
  "*-*-1..",
  "*-*-5..1",
  "*-*-1..31/40",
  "*-*-*-*",
  // Times: hours, minutes, seconds, fractions, lists, ranges, repetitions.
  "03:15",
  "3:15",
  "24:00",
  "*-*-* 23:60",
  "*-*-* 03:15:60",
  "*-*-* 03:15:59.999",
  "*:0/15",
  "*:00/0",
  "*:00/60",
  "*:*:0.5",
  "00/2:00",
  "1..5:00",
  "5..1:00",
  "*-*-* 03,04:15",
  "*-*-* 03:15:00,04:00",
  "03:15:00:00",
  "03",
  "6",
  "3:",
  ":15",
  "*-*-* 03:15:0..0.5",
  "*-*-* 03:15:00.5..10/2",
  // The parsed structure, which the normalized form shows: weekday lists and ranges, repetitions,
  // fractions, end of month, lists out of order and repeated, a range's stop past its last step.
  "Mon,Wed..Fri *:0/15",
  "Tue,Wed *-*-* 10:00",
  "Sun,Mon..Wed,Fri",
  "Mon..Sun 1..10/3:00",
  "Wed,Mon,Wed 10:00",
  "*:*:1.5",
  "*:*:1.000003",
  "*:*:0.000249",
  "*:*:0.0000019",
  "*:*:1.1234567",
  "*:*:0.1234564",
  "*:*:0.9999995",
  "*:*:59.9999995",
  "*:*:0/1",
  "*:*:0/0.25",
  "*:*:10..20/3",
  "*-*-* 05,01,03,01:15",
  "*-*~03",
  "*-*~1..7/2",
  "2030-1..12/5-* 00:00",
  // Spaces.
  "",
  " *-*-* 03:15:00",
  "*-*-* 03:15:00 ",
  "*-*-*  03:15:00",
  "Sun  *-*-* 04:30:00",
  // Time zones.
  "Sun *-*-* 04:30:00 UTC",
  "Sun *-*-* 04:30:00 utc",
  "*-*-* 03:15:00 Europe/Berlin",
  "*-*-* 03:15:00 America/New_York",
  "*-*-* 03:15:00 Mars/Base",
  "UTC",
  // Shorthands.
  "daily",
  "Daily",
  "weekly",
  "monthly",
  "yearly",
  "quarterly",
  "semiannually",
  "semi-annually",
  "biannually",
  "annually",
  "hourly",
  "minutely",
  "daily UTC",
  "every day",
  // Timestamps and things that are not calendar events.
  "@1700000000",
  "@0",
  "@7258118399",
  "@9999999999",
  "03:00 Europe/Berlin",
  "@",
  "every day at 3",
  "2026-12-06T03:15",
  "tomorrow",
  "3am",
  "*/5 * * * *",
  "0 3 * * *",
];

function systemdAnalyze(spec: string): { ok: boolean; never: boolean; normalized?: string } {
  const r = spawnSync("systemd-analyze", ["calendar", spec], { encoding: "utf8" });
  if (r.error)
    throw new Error(
      `systemd-analyze is missing (${r.error.message}); install it: apt-get install -y systemd`,
    );
  const normalized = /^\s*Normalized form: (.*)$/m.exec(r.stdout)?.[1];
  return { ok: r.status === 0, never: /Next elapse: never/.test(r.stdout), normalized };
}

describe("parseCalendar agrees with systemd-analyze calendar", () => {
  it.each(CORPUS)("%j", (spec) => {
    const real = systemdAnalyze(spec);
    const ours = parseCalendar(spec);
    expect({ spec, ok: ours.ok }).toEqual({ spec, ok: real.ok });
    if (ours.ok && ours.spec.year === undefined && ours.spec.timestamp === undefined) {
      // A recurring event: citadel refuses one that systemd would never fire.
      expect({ spec, elapses: everElapses(ours.spec) }).toEqual({ spec, elapses: !real.never });
    }
    if (ours.ok && real.ok) {
      // What was parsed, not only whether: systemd's own rendering of its parse.
      expect({ spec, normalized: formatCalendar(ours.spec) }).toEqual({
        spec,
        normalized: real.normalized,
      });
    }
  });

  it("has valid and invalid specifications in its corpus", () => {
    const results = CORPUS.map((s) => parseCalendar(s).ok);
    expect(results.filter(Boolean).length).toBeGreaterThan(30);
    expect(results.filter((ok) => !ok).length).toBeGreaterThan(30);
  });
});

describe("calendarProblem, for citadel's timers", () => {
  it("accepts the lab's schedules", () => {
    for (const s of ["*-*-* 03:15:00", "Sun *-*-* 04:30:00", "Sun *-*-1..7 01:00:00", "daily"])
      expect(calendarProblem(s)).toBeUndefined();
  });

  it("refuses what systemd cannot parse, what fires once and what never fires", () => {
    expect(calendarProblem("every day at 3")).toMatch(
      /^"every day at 3" is not a systemd calendar event .*systemd-analyze calendar/,
    );
    expect(calendarProblem("2026-12-24 03:00")).toMatch(
      /fixed year or instant, so the timer fires at most once/,
    );
    expect(calendarProblem("*-02-30 03:00")).toMatch(/never elapses/);
  });
});
