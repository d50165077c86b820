/**
 * Stand-ins committed in the example stack files, which `pulumi up` cannot use: the lab's host key
 * before anyone has run ssh-keyscan (Pulumi.citadel.yaml, examples/Pulumi.monitoring-pi.yaml) and
 * the Pi's unrecorded SSD serials. Valid in form, so the schema accepts them and `npm start` can
 * plan; `npm start` and `npm run diff` name each one (lib/synth/stackfile.ts).
 */
export const PLACEHOLDER_HOST_KEYS: readonly string[] = [
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIClq3XRqojEmRblt5PaHpmflgYxx65bhcaK3Myhm22e2",
];

/** Device paths written before the drives' serials were recorded. */
export const PLACEHOLDER_DEVICE = /SERIAL_UNRECORDED/;
