"""The host's own evaluator for the drift timer (ops/scripts/drift.sh): the probe's output on
stdin, the host's checks in $EXPECTATIONS (JSON rendered at plan time by hostExpectations in
components/ops/validate.ts), node_exporter textfile metrics on stdout, failures on stderr.

Each kind is the same test as in evaluateExpectations (validate.ts); tests/drift.test.ts runs
both on the same probe output and wants the same verdicts. Standard library only: the host has
python3 (Ubuntu 24.04) and no Node.
"""

import json
import math
import os
import re
import sys
import time


def parse_probe(output):
    sections, current = {}, None
    for line in output.split("\n"):
        head = re.fullmatch(r"### (\S+) rc=(\d+)", line)
        if head:
            if current:
                sections[current[0]] = (current[1], "\n".join(current[2]).strip())
            current = (head.group(1), int(head.group(2)), [])
        elif current:
            current[2].append(line)
    if current:
        sections[current[0]] = (current[1], "\n".join(current[2]).strip())
    return sections


def js_number(text):
    """JavaScript's Number(text): blank is 0, anything else not a number is NaN."""
    text = text.strip()
    if text == "":
        return 0.0
    try:
        return float(text)
    except ValueError:
        return math.nan


def mdstat_arrays(mdstat):
    """(active, wanted, members) per md array in /proc/mdstat, as mdstatArrays in validate.ts."""
    lines = mdstat.split("\n")
    arrays = []
    for i, line in enumerate(lines):
        head = re.match(r"^(md\S+) : (\S+)", line)
        if not head:
            continue
        counts = re.search(r"\[(\d+)/(\d+)\]", lines[i + 1] if i + 1 < len(lines) else "")
        arrays.append((head.group(2) == "active", int(counts.group(1)) if counts else 0, int(counts.group(2)) if counts else 0))
    return arrays


def evaluate(expectations, output):
    s = parse_probe(output)

    def text(name):
        return s.get(name, (1, ""))[1]

    def ran(name):
        return name in s and s[name][0] == 0

    states = {}
    for line in filter(None, text("containers").split("\n")):
        parts = line.split("|")
        states[parts[0]] = (parts[1] if len(parts) > 1 else None, parts[2] if len(parts) > 2 else "")

    def one(e):
        kind = e["kind"]
        if kind == "lvm":
            rows = [l.strip().split("|") for l in text("lvs").split("\n")]
            row = next((r for r in rows if r[0] == e["vg"] and len(r) > 1 and r[1] == e["lv"]), None)
            size = js_number(row[2]) if row and len(row) > 2 else 0.0
            return size >= e["minBytes"]
        if kind == "mount":
            mounted = any(l.split(" ")[1:2] == [e["mountPoint"]] for l in text("findmnt").split("\n"))
            by_uuid = any(
                re.match(r"UUID=\S+\s", l) and re.split(r"\s+", l)[1:2] == [e["mountPoint"]]
                for l in text("fstab").split("\n")
            )
            return mounted and by_uuid
        if kind == "raid":
            arrays = mdstat_arrays(text("mdstat"))
            unwell = [x for x in arrays if not x[0] or x[2] < x[1]]
            return len(arrays) >= e["count"] and not unwell
        if kind == "gpus":
            gpus = [g for g in text("nvidia-smi").split("\n") if g] if ran("nvidia-smi") else []
            drivers = {(g.split(", ")[2].split(".")[0] if len(g.split(", ")) > 2 else None) for g in gpus}
            return len(gpus) == e["count"] and drivers == {e["branch"]}
        if kind == "nvidia-runtime":
            try:
                runtimes = json.loads(text("docker-runtimes") or "{}")
            except ValueError:
                runtimes = {}
            return isinstance(runtimes, dict) and "nvidia" in runtimes
        if kind == "container":
            state, status = states.get(e["name"], (None, ""))
            return state == "running" and (e["state"] == "running" or status.endswith("(healthy)"))
        if kind == "vllm-models":
            section = "vllm-models-" + e["container"]
            return ran(section) and e["served"] in text(section).split("\n")
        if kind == "vllm-pooling":
            return ran(e["section"]) and js_number(text(e["section"])) > 0
        if kind == "prometheus-targets":
            try:
                targets = json.loads(text("prometheus-targets"))["data"]["activeTargets"]
                return len(targets) > 0 and all(t["health"] == "up" for t in targets)
            except (ValueError, KeyError, TypeError):
                return False
        if kind == "http-200":
            return text(e["section"]) == "200"
        if kind == "timers-active":
            timers = text("timers").split("\n")
            return len(timers) == e["count"] and all(t == "active" for t in timers)
        if kind == "backup-fresh":
            m = re.search(r"^citadel_backup_last_success_timestamp_seconds (\d+)", text("backup-metrics"), re.M)
            last = float(m.group(1)) if m else 0.0
            return last > 0 and (js_number(text("now")) - last) / 3600 <= e["maxAgeHours"]
        if kind == "firewall":
            ufw = text("ufw")
            return bool(re.search(r"^Status: active", ufw, re.M) and re.search(r"^Default: deny \(incoming\)", ufw, re.M))
        if kind == "docker-user":
            return re.search(r"^-A DOCKER-USER -j DROP$", text("docker-user"), re.M) is not None
        raise ValueError("unknown check kind " + kind)

    return [(e["check"], one(e)) for e in expectations]


def label(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def main():
    results = evaluate(json.loads(os.environ["EXPECTATIONS"]), sys.stdin.read())
    lines = [
        "# HELP citadel_validate_check Whether a check of npm run validate passes on this host (1) or fails (0), from the drift timer.",
        "# TYPE citadel_validate_check gauge",
        *('citadel_validate_check{check="%s"} %d' % (label(check), ok) for check, ok in results),
        "# HELP citadel_validate_last_run_timestamp_seconds When the drift timer last evaluated this host's checks.",
        "# TYPE citadel_validate_last_run_timestamp_seconds gauge",
        "citadel_validate_last_run_timestamp_seconds %d" % int(time.time()),
    ]
    print("\n".join(lines))
    for check, ok in results:
        if not ok:
            print("drift: %s fails" % check, file=sys.stderr)


if __name__ == "__main__":
    main()
