/** `npm run diff`'s three formats: text for the terminal, markdown for a PR comment, JSON for tools. */
import { summaryLine, type Action, type InputChange, type PlanDiff, type ResourceChange } from "./diff";

const SYMBOL: Record<Action, string> = { create: "+", update: "~", replace: "±", delete: "-", rerun: "↻" };

/** One changed input as `path: old → new`; secrets and texts never show their values. */
export function renderInput(c: InputChange): string {
  if (c.secret) return `${c.path}: secret changed`;
  if (c.text) return `${c.path}: text changed (see the file diffs)`;
  const show = (v: unknown) => (v === undefined ? "(unset)" : JSON.stringify(v));
  return `${c.path}: ${show(c.old)} → ${show(c.new)}`;
}

function headline(c: ResourceChange): string {
  return `${SYMBOL[c.action]} ${c.action.padEnd(7)} ${c.name} (${c.type})${c.protect ? " [protected]" : ""}`;
}

function verdict(d: PlanDiff): string[] {
  if (d.violations.length === 0) return ["citadel-guard: no violations"];
  const mandatory = d.violations.filter((v) => v.enforcementLevel === "mandatory").length;
  return [
    `citadel-guard: ${mandatory} mandatory, ${d.violations.length - mandatory} advisory violations (${d.violations.filter((v) => v.new).length} new)`,
    ...d.violations.map(
      (v) => `  ${v.new ? "NEW " : ""}[${v.enforcementLevel}] ${v.policy}: ${v.message.split("\n")[0] ?? ""}`,
    ),
  ];
}

function refusals(d: PlanDiff): string[] {
  return d.resources.filter((c) => c.refused).map((c) => `REFUSED: ${c.refused}`);
}

export function renderText(d: PlanDiff, title: string): string {
  const lines = [title, ""];
  for (const c of d.resources) {
    lines.push(headline(c), `    ${c.reason}`);
    for (const i of c.changes) lines.push(`    ${renderInput(i)}`);
    if (c.refused) lines.push(`    REFUSED: ${c.refused}`);
  }
  for (const s of d.secretsChanged) lines.push(`secret changed: citadel:${s}`);
  if (d.files.length > 0) lines.push("", "rendered files:");
  for (const f of d.files) lines.push(f.patch.trimEnd());
  lines.push("", ...refusals(d));
  lines.push(
    `${summaryLine(d)}${d.summary.rerun ? `, ${d.summary.rerun} restarted or reloaded` : ""}`,
    ...verdict(d),
  );
  return `${lines.join("\n").replace(/\n{3,}/g, "\n\n")}\n`;
}

/** A PR comment: the summary, refusals, then one collapsible section per host. */
export function renderMarkdown(d: PlanDiff, title: string): string {
  const out = [
    `### ${title}`,
    "",
    `**${summaryLine(d)}**${d.summary.rerun ? ` · ${d.summary.rerun} restarted or reloaded` : ""}`,
    "",
  ];
  for (const r of refusals(d)) out.push(`> :no_entry: **${r}**`, "");
  for (const s of d.secretsChanged) out.push(`- secret changed: \`citadel:${s}\``);
  if (d.secretsChanged.length > 0) out.push("");
  const hosts = [...new Set([...d.resources.map((c) => c.host), ...d.files.map((f) => f.host)])].sort();
  for (const h of hosts) {
    const rs = d.resources.filter((c) => c.host === h);
    const fs = d.files.filter((f) => f.host === h);
    const count = (a: Action) => rs.filter((c) => c.action === a).length;
    out.push(
      "<details>",
      `<summary><b>${h}</b>: +${count("create")} ~${count("update")} ±${count("replace")} -${count("delete")}${count("rerun") ? ` · ${count("rerun")} restarted or reloaded` : ""} · ${fs.length} files</summary>`,
      "",
    );
    if (rs.length > 0) {
      out.push("| | resource | why | changed inputs |", "|---|---|---|---|");
      for (const c of rs) {
        const inputs = c.changes.map((i) => `\`${renderInput(i).replace(/\|/g, "\\|")}\``).join("<br>");
        out.push(
          `| ${SYMBOL[c.action]} ${c.action} | \`${c.name}\`${c.protect ? " (protected)" : ""} | ${c.reason.replace(/\|/g, "\\|")}${c.refused ? ` **REFUSED**` : ""} | ${inputs} |`,
        );
      }
      out.push("");
    }
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
  out.push("```", ...verdict(d), "```", "");
  return out.join("\n");
}

export function renderJson(d: PlanDiff): string {
  return `${JSON.stringify({ ...d, summary: { ...d.summary, line: summaryLine(d) } }, null, 2)}\n`;
}
