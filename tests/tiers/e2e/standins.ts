/** Stand-in listeners in the guest, for ports whose service does not run in the VM. */
/**
 * The guest command that starts a stand-in HTTP listener on each port and waits until every one
 * accepts a connection (up to 180 s: python3 starts slowly under emulation on a loaded machine; a
 * fixed 3 s wait let the firewall check probe ports nothing listened on yet), failing with the
 * ports that never did. A port that something already listens on counts as ready.
 */
export function standInListeners(unit: string, ports: number[]): string {
  const list = ports.join(" ");
  return [
    `for p in ${list}; do systemd-run --unit=${unit}-$p python3 -m http.server --bind 0.0.0.0 $p >/dev/null || true; done`,
    `for i in $(seq 180); do down=""; for p in ${list}; do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || down="$down $p"; done; [ -z "$down" ] && exit 0; sleep 1; done`,
    `echo "stand-in listeners never answered on:$down" >&2; exit 1`,
  ].join("\n");
}
