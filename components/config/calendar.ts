/**
 * systemd's calendar-event grammar (systemd.time(7), "Calendar Events"), as OnCalendar= reads it.
 * Follows src/shared/calendarspec.c (calendar_spec_from_string, parse_weekdays, parse_date,
 * parse_calendar_time, parse_chain, prepend_component, calendar_spec_valid) of systemd v252-v255,
 * the versions of Debian 12 and Ubuntu 24.04; tests/calendar.test.ts checks it against the real
 * `systemd-analyze calendar` on a corpus of valid and invalid specifications. Pure.
 */

/** One comma-separated element: a value, a range `a..b`, each optionally repeated `/n`. */
interface Component {
  start: number;
  stop?: number;
  repeat?: number;
}
/** `*` is undefined; otherwise the elements of the list. */
type Chain = Component[] | undefined;

export interface CalendarSpec {
  weekdays?: number[];
  year: Chain;
  month: Chain;
  day: Chain;
  /** `~`: days count from the end of the month. */
  endOfMonth: boolean;
  hour: Chain;
  minute: Chain;
  /** Microseconds, as systemd keeps seconds. */
  second: Chain;
  /** `@<epoch>`: one instant, not a recurring event. */
  timestamp?: number;
  timezone?: string;
}

export type CalendarResult = { ok: true; spec: CalendarSpec } | { ok: false; reason: string };

class Invalid extends Error {}

const USEC = 1_000_000;

/** calendarspec.c's day table: full names before abbreviations, matched case-insensitively. */
const DAYS: [string, number][] = [
  ["Monday", 0],
  ["Mon", 0],
  ["Tuesday", 1],
  ["Tue", 1],
  ["Wednesday", 2],
  ["Wed", 2],
  ["Thursday", 3],
  ["Thu", 3],
  ["Friday", 4],
  ["Fri", 4],
  ["Saturday", 5],
  ["Sat", 5],
  ["Sunday", 6],
  ["Sun", 6],
];

/** The shorthands of calendar_spec_from_string, compared case-insensitively (strcaseeq). */
const SHORTHANDS: Record<string, string> = {
  minutely: "*-*-* *:*:00",
  hourly: "*-*-* *:00:00",
  daily: "*-*-* 00:00:00",
  monthly: "*-*-01 00:00:00",
  weekly: "Mon *-*-* 00:00:00",
  yearly: "*-01-01 00:00:00",
  annually: "*-01-01 00:00:00",
  quarterly: "*-01,04,07,10-01 00:00:00",
  semiannually: "*-01,07-01 00:00:00",
  biannually: "*-01,07-01 00:00:00",
  "bi-annually": "*-01,07-01 00:00:00",
  "semi-annually": "*-01,07-01 00:00:00",
};

function zoneNames(): Set<string> {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  return new Set(intl.supportedValuesOf?.("timeZone") ?? []);
}

/** Parses an OnCalendar= value exactly where systemd would accept or refuse it. */
export function parseCalendar(text: string): CalendarResult {
  try {
    return { ok: true, spec: parse(text) };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, reason: err.message };
    throw err;
  }
}

function parse(input: string): CalendarSpec {
  let p = input;
  let timezone: string | undefined;
  if (/ utc$/i.test(p)) {
    p = p.slice(0, -4);
    timezone = "UTC";
  } else {
    const space = p.lastIndexOf(" ");
    const zone = space >= 0 ? p.slice(space + 1) : "";
    if (zone && zoneNames().has(zone)) {
      timezone = zone;
      p = p.slice(0, space);
    }
  }
  if (p === "") throw new Invalid("it is empty");
  if (p.startsWith("@")) {
    if (!/^@\d+$/.test(p)) throw new Invalid("@ must be followed by seconds since the epoch");
    const timestamp = Number(p.slice(1));
    // calendarspec_from_time_t makes it a date, and calendar_spec_valid bounds its year.
    const year = new Date(timestamp * 1000).getUTCFullYear();
    if (!(year <= 2199)) throw new Invalid("the instant is past the year 2199");
    return { ...wildcard(), timestamp, timezone };
  }
  const shorthand = SHORTHANDS[p.toLowerCase()];
  if (shorthand !== undefined) return { ...parse(shorthand), timezone };

  const cursor = { s: p };
  const weekdays = parseWeekdays(cursor);
  const date = parseDate(cursor);
  const time = parseTime(cursor);
  if (cursor.s !== "") throw new Invalid(`unexpected ${JSON.stringify(cursor.s)}`);
  const spec: CalendarSpec = { weekdays, ...date, ...time, timezone };
  validate(spec);
  return spec;
}

function wildcard(): CalendarSpec {
  return {
    year: undefined,
    month: undefined,
    day: undefined,
    endOfMonth: false,
    hour: [{ start: 0 }],
    minute: [{ start: 0 }],
    second: [{ start: 0 }],
  };
}

function parseWeekdays(c: { s: string }): number[] | undefined {
  const days = new Set<number>();
  let rangeFrom = -1;
  let first = true;
  for (;;) {
    const hit = DAYS.find(([name]) => c.s.slice(0, name.length).toLowerCase() === name.toLowerCase());
    if (!hit) {
      if (first) return undefined;
      throw new Invalid(`${JSON.stringify(c.s)} does not start with a weekday`);
    }
    const [name, nr] = hit;
    const next = c.s[name.length];
    if (next !== undefined && !["-", ".", ",", " "].includes(next))
      throw new Invalid(`a weekday is followed by ${JSON.stringify(next)}`);
    days.add(nr);
    if (rangeFrom >= 0) {
      if (rangeFrom > nr) throw new Invalid("a weekday range runs backwards (Mon..Sun is the week's order)");
      for (let d = rangeFrom + 1; d < nr; d++) days.add(d);
    }
    c.s = c.s.slice(name.length);
    if (c.s === "") return [...days].sort();
    if (c.s[0] === " ") {
      c.s = c.s.replace(/^ +/, "");
      return [...days].sort();
    }
    if (c.s[0] === ".") {
      if (rangeFrom >= 0 || c.s[1] !== ".") throw new Invalid("a weekday range is written Mon..Fri");
      rangeFrom = nr;
      c.s = c.s.slice(2);
    } else if (c.s[0] === "-") {
      if (rangeFrom >= 0) throw new Invalid("a weekday range is written Mon..Fri");
      rangeFrom = nr;
      c.s = c.s.slice(1);
    } else if (c.s[0] === ",") {
      rangeFrom = -1;
      c.s = c.s.slice(1);
    }
    if (c.s === "" || c.s[0] === " ") {
      if (rangeFrom >= 0) throw new Invalid("a weekday range has no end");
      c.s = c.s.replace(/^ +/, "");
      return [...days].sort();
    }
    first = false;
  }
}

/** parse_component_decimal: digits, and for seconds an optional fraction of up to 6 digits. */
function decimal(c: { s: string }, usec: boolean): number {
  const m = /^\d+/.exec(c.s);
  if (!m) throw new Invalid(`expected a number at ${JSON.stringify(c.s)}`);
  let value = Number(m[0]);
  c.s = c.s.slice(m[0].length);
  if (usec) {
    value *= USEC;
    // One "." is a decimal point, ".." a range. parse_fractional_part_u: six digits in whole
    // microseconds (no floating point, 0.000249 is 249), rounded up on a seventh digit of 5-9.
    const frac = /^\.(\d+)/.exec(c.s);
    if (frac) {
      const digits = frac[1] as string;
      value += Number(digits.slice(0, 6).padEnd(6, "0"));
      if ((digits[6] ?? "0") >= "5") value += 1;
      c.s = c.s.slice(frac[0].length);
    }
  }
  return value;
}

function component(c: { s: string }, usec: boolean): Component {
  const start = decimal(c, usec);
  let stop: number | undefined;
  let repeat: number | undefined;
  if (c.s.startsWith("..")) {
    c.s = c.s.slice(2);
    stop = decimal(c, usec);
    repeat = usec ? USEC : 1;
  }
  if (c.s.startsWith("/")) {
    c.s = c.s.slice(1);
    repeat = decimal(c, usec);
    if (repeat === 0) throw new Invalid("a repetition of 0 never advances");
  } else if (usec && stop !== undefined && start + (repeat ?? 0) > stop) {
    throw new Invalid("a range of seconds shorter than one second needs a repetition");
  }
  if (c.s !== "" && !" ,-~:".includes(c.s[0] as string))
    throw new Invalid(`unexpected ${JSON.stringify(c.s[0])}`);
  return { start, stop, repeat };
}

function chain(c: { s: string }, usec: boolean): Chain {
  if (c.s.startsWith("*")) {
    c.s = c.s.slice(1);
    return undefined;
  }
  const out = [component(c, usec)];
  while (c.s.startsWith(",")) {
    c.s = c.s.slice(1);
    out.push(component(c, usec));
  }
  return out;
}

function parseDate(c: { s: string }): Pick<CalendarSpec, "year" | "month" | "day" | "endOfMonth"> {
  const none = { year: undefined, month: undefined, day: undefined, endOfMonth: false };
  if (c.s === "") return none;
  const saved = c.s;
  const first = chain(c, false);
  // A ':' (or the end) after the first part: it was a time, not a date.
  if (c.s === "" || c.s[0] === ":") {
    c.s = saved;
    return none;
  }
  let endOfMonth = false;
  if (c.s[0] === "~") endOfMonth = true;
  else if (c.s[0] !== "-") throw new Invalid(`a date is written YYYY-MM-DD, not ${JSON.stringify(saved)}`);
  c.s = c.s.slice(1);
  const second = chain(c, false);
  if (c.s === "" || c.s[0] === " ") {
    c.s = c.s.replace(/^ +/, "");
    return { year: undefined, month: first, day: second, endOfMonth };
  }
  if (endOfMonth) throw new Invalid("~ comes between the month and the day");
  if (c.s[0] === "~") endOfMonth = true;
  else if (c.s[0] !== "-") throw new Invalid(`a date is written YYYY-MM-DD, not ${JSON.stringify(saved)}`);
  c.s = c.s.slice(1);
  const third = chain(c, false);
  if (c.s !== "" && c.s[0] !== " ") throw new Invalid(`unexpected ${JSON.stringify(c.s)} after the date`);
  c.s = c.s.replace(/^ +/, "");
  // Two-digit years, as calendarspec.c reads them: 00-69 are 20xx, 70-99 are 19xx.
  const year = first?.map((y) => ({
    ...y,
    start: fixYear(y.start),
    stop: y.stop === undefined ? undefined : fixYear(y.stop),
  }));
  return { year, month: second, day: third, endOfMonth };
}

function fixYear(y: number): number {
  if (y < 70) return y + 2000;
  if (y < 100) return y + 1900;
  return y;
}

function parseTime(c: { s: string }): Pick<CalendarSpec, "hour" | "minute" | "second"> {
  if (c.s === "") return { hour: [{ start: 0 }], minute: [{ start: 0 }], second: [{ start: 0 }] };
  const hour = chain(c, false);
  if (c.s[0] !== ":") throw new Invalid("a time is written HH:MM or HH:MM:SS");
  c.s = c.s.slice(1);
  const minute = chain(c, false);
  if (c.s === "") return { hour, minute, second: [{ start: 0 }] };
  if (c.s[0] !== ":") throw new Invalid("a time is written HH:MM or HH:MM:SS");
  c.s = c.s.slice(1);
  const second = chain(c, true);
  if (c.s !== "") throw new Invalid(`unexpected ${JSON.stringify(c.s)} after the time`);
  return { hour, minute, second };
}

/** calendar_spec_valid and chain_valid: every value within its field's range. */
function validate(spec: CalendarSpec): void {
  const check = (what: string, ch: Chain, from: number, to: number) => {
    for (const x of ch ?? []) {
      const bad =
        x.start < from ||
        x.start > to ||
        (x.stop === undefined && x.repeat !== undefined && x.repeat > to - from) ||
        (x.stop !== undefined && (x.stop < from || x.stop > to || x.start > x.stop));
      if (bad) throw new Invalid(`the ${what} is out of its range ${from}..${to}`);
    }
  };
  check("year", spec.year, 1970, 2199);
  check("month", spec.month, 1, 12);
  // Counted from the end of the month, a day goes back at most 28 (February's length).
  check("day", spec.day, 1, spec.endOfMonth ? 28 : 31);
  check("hour", spec.hour, 0, 23);
  check("minute", spec.minute, 0, 59);
  check("second", spec.second, 0, 60 * USEC - 1);
}

/**
 * A parsed spec as systemd prints it, the "Normalized form:" of `systemd-analyze calendar`:
 * calendar_spec_to_string, format_weekdays and format_chain of src/shared/calendarspec.c (v252),
 * after calendar_spec_normalize (normalize_chain, and "UTC" for a zone called UTC) and, for
 * `@<epoch>`, calendarspec_from_time_t (the instant's UTC date and time). Pure.
 */
export function formatCalendar(spec: CalendarSpec): string {
  const pad = (n: number, width: number) => String(n).padStart(width, "0");
  if (spec.timestamp !== undefined) {
    const t = new Date(spec.timestamp * 1000);
    const date = `${pad(t.getUTCFullYear(), 4)}-${pad(t.getUTCMonth() + 1, 2)}-${pad(t.getUTCDate(), 2)}`;
    const time = `${pad(t.getUTCHours(), 2)}:${pad(t.getUTCMinutes(), 2)}:${pad(t.getUTCSeconds(), 2)}`;
    return `${date} ${time} UTC`;
  }
  let out = "";
  const bits = new Set(spec.weekdays ?? []);
  // calendar_spec_normalize: no weekday and every weekday are the same, and print nothing.
  if (bits.size > 0 && bits.size < 7) out += `${formatWeekdays(bits)} `;
  const endOfMonth = spec.endOfMonth && spec.day !== undefined;
  out += `${formatChain(spec.year, 4, false)}-${formatChain(spec.month, 2, false)}`;
  out += `${endOfMonth ? "~" : "-"}${formatChain(spec.day, 2, false)}`;
  out += ` ${formatChain(spec.hour, 2, false)}:${formatChain(spec.minute, 2, false)}`;
  out += `:${formatChain(spec.second, 2, true)}`;
  if (spec.timezone !== undefined) out += ` ${spec.timezone}`;
  return out;
}

const DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/** format_weekdays: runs of three or more days as `a..b`, of two as `a,b`. */
function formatWeekdays(days: Set<number>): string {
  let out = "";
  let l = -1;
  const close = (x: number) => {
    if (x > l + 1) out += `${x > l + 2 ? ".." : ","}${DAY_NAMES[x - 1] as string}`;
  };
  let x = 0;
  for (; x < 7; x++) {
    if (days.has(x)) {
      if (l < 0) {
        out += `${out === "" ? "" : ","}${DAY_NAMES[x] as string}`;
        l = x;
      }
    } else if (l >= 0) {
      close(x);
      l = -1;
    }
  }
  if (l >= 0) close(x);
  return out;
}

/**
 * normalize_chain: a range's stop down to its last repetition, a range that cannot repeat to its
 * start alone, sorted, duplicates dropped.
 */
function normalizeChain(ch: Component[]): Component[] {
  const key = (x: Component) => [x.start, x.stop ?? -1, x.repeat ?? 0];
  const fixed = ch.map((x) => {
    const stop = x.stop;
    const repeat = x.repeat ?? 0;
    let c: Component = x;
    if (stop !== undefined && stop > x.start && repeat > 0)
      c = { ...x, stop: stop - ((stop - x.start) % repeat) };
    // A repetition that cannot fire even once, or a range of one value, is that one value.
    const to = c.stop;
    if (to !== undefined && ((to > x.start && repeat > 0 && x.start + repeat > to) || to === x.start))
      return { start: x.start };
    return c;
  });
  fixed.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < 3; i++) if (ka[i] !== kb[i]) return (ka[i] as number) - (kb[i] as number);
    return 0;
  });
  return fixed.filter((x, i) => i === 0 || key(x).join() !== key(fixed[i - 1] as Component).join());
}

/** format_chain: `*`, or each component as start[..stop][/repeat], seconds with `.%06i` fractions. */
function formatChain(ch: Chain, space: number, usec: boolean): string {
  if (ch === undefined) return "*";
  const d = usec ? USEC : 1;
  const list = normalizeChain(ch);
  const first = list[0] as Component;
  if (usec && list.length === 1 && first.start === 0 && first.repeat === USEC) return "*";
  const num = (v: number, width: number) => {
    const frac = v % d;
    return `${String(Math.floor(v / d)).padStart(width, "0")}${frac > 0 ? `.${String(frac).padStart(6, "0")}` : ""}`;
  };
  return list
    .map((x) => {
      let s = num(x.start, space);
      if (x.stop !== undefined && x.stop > 0) s += `..${num(x.stop, space)}`;
      const repeat = x.repeat ?? 0;
      if (repeat > 0 && !(x.stop !== undefined && x.stop > 0 && repeat === d))
        s += `/${Math.floor(repeat / d)}`;
      if (repeat % d > 0) s += `.${String(repeat % d).padStart(6, "0")}`;
      return s;
    })
    .join(",");
}

function values(ch: Chain, from: number, to: number): number[] {
  if (ch === undefined) return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const out = new Set<number>();
  for (const x of ch) {
    const stop = x.stop ?? (x.repeat !== undefined ? to : x.start);
    for (let v = x.start; v <= Math.min(stop, to); v += x.repeat ?? 1) out.add(v);
  }
  return [...out];
}

/**
 * Whether a recurring spec (any year) ever elapses: some listed month has some listed day. Leap
 * years count, so `*-02-29` elapses; `*-02-30` and `*-04-31` never do.
 */
export function everElapses(spec: CalendarSpec): boolean {
  const length = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return values(spec.month, 1, 12).some((m) =>
    values(spec.day, 1, 31).some((d) => d <= (length[m - 1] as number)),
  );
}

/**
 * Why `text` cannot be a recurring timer's OnCalendar=, or undefined when it can: systemd must
 * parse it, it must recur (no fixed year, no @timestamp) and it must elapse at all.
 */
export function calendarProblem(text: string): string | undefined {
  const parsed = parseCalendar(text);
  if (!parsed.ok)
    return `${JSON.stringify(text)} is not a systemd calendar event (${parsed.reason}); \`systemd-analyze calendar\` refuses it, so the timer would never fire. Write weekday, date and time as in "Sun *-*-* 04:30:00" or "*-*-* 03:15:00"`;
  const spec = parsed.spec;
  if (spec.timestamp !== undefined || spec.year !== undefined)
    return `${JSON.stringify(text)} names a fixed year or instant, so the timer fires at most once; use * for the year, e.g. "*-*-* 03:15:00"`;
  if (!everElapses(spec))
    return `${JSON.stringify(text)} names no day that exists (e.g. February 30), so \`systemd-analyze calendar\` says it never elapses; pick a day every listed month has`;
  return undefined;
}
