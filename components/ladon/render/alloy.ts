/**
 * Grafana Alloy's configuration. Alloy's syntax has no JavaScript library, so configs are built
 * as typed blocks and printed by one small serializer that escapes every string.
 */

/** A reference to another component's export, printed bare: `loki.write.default.receiver`. */
export class Ref {
  constructor(readonly path: string) {
    if (!/^[a-z_][a-z0-9_.]*$/.test(path)) throw new Error(`not an Alloy reference: ${path}`);
  }
}

export type AlloyValue = string | number | boolean | Ref | AlloyValue[] | { [key: string]: AlloyValue };

export interface Block {
  /** e.g. `loki.source.journal` or `rule`. */
  name: string;
  /** The component label, e.g. `"journal"`. */
  label?: string;
  attrs?: [string, AlloyValue][];
  blocks?: Block[];
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function value(v: AlloyValue, indent: string): string {
  if (v instanceof Ref) return v.path;
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => value(x, indent)).join(", ")}]`;
  const keys = Object.keys(v).sort();
  if (keys.length === 0) return "{}";
  const inner = `${indent}  `;
  const lines = keys.map(
    (k) => `${inner}${IDENT.test(k) ? k : JSON.stringify(k)} = ${value(v[k] as AlloyValue, inner)},`,
  );
  return `{\n${lines.join("\n")}\n${indent}}`;
}

function block(b: Block, indent: string): string {
  const head = `${indent}${b.name}${b.label === undefined ? "" : ` ${JSON.stringify(b.label)}`} {`;
  const inner = `${indent}  `;
  const body = [
    ...(b.attrs ?? []).map(([k, v]) => {
      if (!IDENT.test(k)) throw new Error(`not an Alloy attribute name: ${k}`);
      return `${inner}${k} = ${value(v, inner)}`;
    }),
    ...(b.blocks ?? []).map((child) => block(child, inner)),
  ];
  return body.length === 0 ? `${head}}` : `${head}\n${body.join("\n")}\n${indent}}`;
}

export function renderAlloyBlocks(blocks: Block[]): string {
  return `${blocks.map((b) => block(b, "")).join("\n\n")}\n`;
}

/** The kernel message the NVIDIA driver prints for an Xid error, e.g. `NVRM: Xid (PCI:0000:01:00): 79, ...`. */
export const XID_PATTERN = "NVRM: Xid \\(PCI:(?P<pci>[0-9a-fA-F:.]+)\\): (?P<xid>\\d+),";

/**
 * One host's Alloy: journald and every container's logs to Loki, with labels chosen for cheap
 * queries (host, unit, container, level), plus a counter of NVIDIA Xid errors from the kernel log.
 */
export function renderAlloyConfig(host: string, lokiPushUrl: string): string {
  const level: Block[] = [
    {
      name: "stage.regex",
      attrs: [
        [
          "expression",
          "(?i)\\b(?P<level>trace|debug|info|notice|warn|warning|error|err|crit|critical|fatal|panic)\\b",
        ],
      ],
    },
    {
      name: "stage.template",
      attrs: [
        ["source", "level"],
        ["template", "{{ ToLower .Value }}"],
      ],
    },
    { name: "stage.labels", attrs: [["values", { level: "" }]] },
  ];
  return renderAlloyBlocks([
    {
      name: "loki.write",
      label: "default",
      attrs: [["external_labels", { host }]],
      blocks: [{ name: "endpoint", attrs: [["url", lokiPushUrl]] }],
    },
    {
      name: "loki.relabel",
      label: "journal",
      attrs: [["forward_to", []]],
      blocks: [
        {
          name: "rule",
          attrs: [
            ["source_labels", ["__journal__systemd_unit"]],
            ["target_label", "unit"],
          ],
        },
        // Kernel messages (NVIDIA Xid among them) carry no unit; give them one so they are findable.
        {
          name: "rule",
          attrs: [
            ["source_labels", ["__journal__transport"]],
            ["regex", "kernel"],
            ["target_label", "unit"],
            ["replacement", "kernel"],
          ],
        },
        {
          name: "rule",
          attrs: [
            ["source_labels", ["__journal_priority_keyword"]],
            ["target_label", "level"],
          ],
        },
        // loki.source.journal adds job="loki.source.journal.<label>" to every entry before these
        // rules run (internal/component/loki/source/journal/tailer.go@v1.19.0, newTailerWithJournal
        // and relabel.ProcessBuilder); the README promises no job label, so it is dropped here.
        {
          name: "rule",
          attrs: [
            ["action", "labeldrop"],
            ["regex", "job"],
          ],
        },
      ],
    },
    {
      name: "loki.source.journal",
      label: "journal",
      attrs: [
        ["path", "/var/log/journal"],
        ["max_age", "12h"],
        ["relabel_rules", new Ref("loki.relabel.journal.rules")],
        ["forward_to", [new Ref("loki.write.default.receiver"), new Ref("loki.process.nvidia_xid.receiver")]],
      ],
    },
    {
      // Counts Xid errors as a metric on Alloy's own /metrics; forwards nothing, so the extra
      // labels never reach Loki's streams.
      name: "loki.process",
      label: "nvidia_xid",
      attrs: [["forward_to", []]],
      blocks: [
        {
          name: "stage.match",
          attrs: [["selector", '{unit="kernel"} |~ "NVRM: Xid"']],
          blocks: [
            { name: "stage.regex", attrs: [["expression", XID_PATTERN]] },
            { name: "stage.labels", attrs: [["values", { pci: "", xid: "" }]] },
            {
              name: "stage.metrics",
              blocks: [
                {
                  name: "metric.counter",
                  attrs: [
                    ["name", "nvidia_xid_total"],
                    ["prefix", "citadel_"],
                    ["description", "NVIDIA Xid errors in the kernel log"],
                    ["match_all", true],
                    ["action", "inc"],
                    ["max_idle_duration", "720h"],
                  ],
                },
              ],
            },
          ],
        },
      ],
    },
    { name: "discovery.docker", label: "containers", attrs: [["host", "unix:///var/run/docker.sock"]] },
    {
      name: "discovery.relabel",
      label: "containers",
      attrs: [["targets", new Ref("discovery.docker.containers.targets")]],
      blocks: [
        {
          name: "rule",
          attrs: [
            ["source_labels", ["__meta_docker_container_name"]],
            ["regex", "/(.*)"],
            ["target_label", "container"],
          ],
        },
      ],
    },
    {
      name: "loki.source.docker",
      label: "containers",
      attrs: [
        ["host", "unix:///var/run/docker.sock"],
        ["targets", new Ref("discovery.relabel.containers.output")],
        ["forward_to", [new Ref("loki.process.containers.receiver")]],
      ],
    },
    {
      name: "loki.process",
      label: "containers",
      attrs: [["forward_to", [new Ref("loki.write.default.receiver")]]],
      blocks: level,
    },
  ]);
}
