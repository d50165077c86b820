/**
 * `npm run diff`'s three formats: text for the terminal, markdown for a PR comment, JSON for tools.
 * A reviewer reads top-down: the summary and the policy verdict, then per host what `pulumi up`
 * would run and the notes that go with it (the VRAM plan before and after, downtime), and only
 * then the file diffs, collapsed in markdown.
 */
import { summaryLine, type Action, type InputChange, type PlanDiff, type ResourceChange } from "./diff";

const SYMBOL: Record<Action, string> = { create: "+", update: "~", replace: "±", delete: "-", rerun: "↻" };

/** One changed input as `path: old → new`; secrets and texts never show their values. */
export function renderInput(c: InputChange): string {
  if (c.secret) return `${c.path}: secret changed`;
  if (c.text) return `${c.path}: text changed${c.see ? `, diffed below as ${c.see}` : ""}`;
  const show = (v: unknown) => (v === undefined ? "(unset)" : JSON.stringify(v));
  return `${c.path}: ${show(c.old)} → ${show(c.new)}`;
}

function headline(c: ResourceChange): string {
  return `${SYMBOL[c.action]} ${c.action.padEnd(7)} ${c.name} (${c.type})${c.protect ? " [protected]" : ""}`;
}

/** citadel-guard's verdict: mandatory and new violations in full, the others counted. */
function verdict(d: PlanDiff): string[] {
  if (d.violations.length === 0) return ["citadel-guard: no violations"];
  const mandatory = d.violations.filter((v) => v.enforcementLevel === "mandatory").length;
  const shown = d.violations.filter((v) => v.new || v.enforcementLevel === "mandatory");
  const rest = d.violations.length - shown.length;
  return [
    `citadel-guard: ${mandatory} mandatory, ${d.violations.length - mandatory} advisory violations (${d.violations.filter((v) => v.new).length} new)`,
    ...shown.map(
      (v) => `  ${v.new ? "NEW " : ""}[${v.enforcementLevel}] ${v.policy}: ${v.message.split("\n")[0] ?? ""}`,
    ),
    ...(rest > 0
      ? [`  ${rest} advisory violation${rest === 1 ? "" : "s"} the base has too (npm start lists them)`]
      : []),
  ];
}

function refusals(d: PlanDiff): string[] {
  return d.resources.filter((c) => c.refused).map((c) => `REFUSED: ${c.refused}`);
}

function summary(d: PlanDiff): string {
  const rerun = d.summary.rerun ? `, ${d.summary.rerun} restarted or reloaded` : "";
  return `${summaryLine(d)}${rerun}, ${d.files.length} file diff${d.files.length === 1 ? "" : "s"}`;
}

/** Hosts with a change, a file or a note, in name order. */
function hostsOf(d: PlanDiff): string[] {
  return [
    ...new Set([
      ...d.resources.map((c) => c.host),
      ...d.files.map((f) => f.host),
      ...d.notes.map((n) => n.host),
    ]),
  ].sort();
}

function hostCounts(d: PlanDiff, h: string): string {
  const rs = d.resources.filter((c) => c.host === h);
  const count = (a: Action) => rs.filter((c) => c.action === a).length;
  return `+${count("create")} ~${count("update")} ±${count("replace")} -${count("delete")}${count("rerun") ? ` · ${count("rerun")} restarted or reloaded` : ""}`;
}

export function renderText(d: PlanDiff, title: string): string {
  const lines = [title, "", summary(d), ...verdict(d), ...refusals(d)];
  for (const s of d.secretsChanged) lines.push(`secret changed: citadel:${s}`);
  for (const h of hostsOf(d)) {
    lines.push("", `${h}: ${hostCounts(d, h)}, in the order pulumi up runs them`);
    for (const c of d.resources.filter((x) => x.host === h)) {
      lines.push(`  ${headline(c)}`, `      ${c.reason}`);
      for (const i of c.changes) lines.push(`      ${renderInput(i)}`);
      if (c.refused) lines.push(`      REFUSED: ${c.refused}`);
    }
    for (const n of d.notes.filter((x) => x.host === h))
      lines.push(`  ${n.title}`, ...n.lines.map((l) => `    ${l}`));
  }
  if (d.files.length > 0) lines.push("", "file diffs:");
  for (const f of d.files) lines.push(`=== ${f.path} (${f.status})`, f.patch.trimEnd());
  return `${lines.join("\n").replace(/\n{3,}/g, "\n\n")}\n`;
}

const cell = (s: string) => s.replace(/\|/g, "\\|");

/** A PR comment: the summary and verdict, per host the changes and notes, then the file diffs collapsed. */
export function renderMarkdown(d: PlanDiff, title: string): string {
  const out = [`### ${title}`, "", `**${summary(d)}**`, "", "```", ...verdict(d), "```", ""];
  for (const r of refusals(d)) out.push(`> :no_entry: **${r}**`, "");
  for (const s of d.secretsChanged) out.push(`- secret changed: \`citadel:${s}\``);
  if (d.secretsChanged.length > 0) out.push("");
  for (const h of hostsOf(d)) {
    const rs = d.resources.filter((c) => c.host === h);
    out.push(`#### ${h}: ${hostCounts(d, h)}`, "", "In the order `pulumi up` runs them.", "");
    if (rs.length > 0) {
      out.push("| | resource | why | changed inputs |", "|---|---|---|---|");
      for (const c of rs) {
        const inputs = c.changes.map((i) => `\`${cell(renderInput(i))}\``).join("<br>");
        out.push(
          `| ${SYMBOL[c.action]} ${c.action} | \`${c.name}\`${c.protect ? " (protected)" : ""} | ${cell(c.reason)}${c.refused ? ` **REFUSED**` : ""} | ${inputs} |`,
        );
      }
      out.push("");
    }
    for (const n of d.notes.filter((x) => x.host === h))
      out.push(`**${n.title}**`, "", "```", ...n.lines, "```", "");
  }
  const withFiles = hostsOf(d).filter((h) => d.files.some((f) => f.host === h));
  if (withFiles.length > 0) out.push("#### file diffs", "");
  for (const h of withFiles) {
    const fs = d.files.filter((f) => f.host === h);
    out.push(
      "<details>",
      `<summary><b>${h}</b>: ${fs.length} file diff${fs.length === 1 ? "" : "s"}</summary>`,
      "",
    );
    for (const f of fs) {
      out.push(
        `<details><summary><code>${f.path}</code> (${f.status})</summary>`,
        "",
        "```diff",
        f.patch.trimEnd(),
        "```",
        "</details>",
        "",
      );
    }
    out.push("</details>", "");
  }
  return out.join("\n");
}

export function renderJson(d: PlanDiff): string {
  return `${JSON.stringify({ ...d, summary: { ...d.summary, line: summaryLine(d) } }, null, 2)}\n`;
}
