import type { ResourceValidationPolicy } from "@pulumi/policy";
import { pinOf } from "../../components/pins";
import { serviceOf, TYPES } from "../lib/resources";

/** True when a mount at `mount` hides `own`: the same path, or a directory above it. */
export function hides(mount: string, own: string): boolean {
  const m = mount.replace(/\/+$/, "") || "/";
  return own === m || own.startsWith(m === "/" ? "/" : `${m}/`);
}

export const disallowHiddenImagePaths: ResourceValidationPolicy = {
  name: "disallow-hidden-image-paths",
  description:
    "No volume or mount covers a path the image itself needs (its program, its Python environment), because the container then starts without it: Phoenix's data volume at /phoenix hid the image's own packages and Phoenix could not start. Each image's paths are read from its Dockerfile at the pinned tag (components/pins.ts).",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== TYPES.container) return;
    const service = serviceOf(args.props);
    const pin = pinOf(service);
    if (!pin) return;
    const targets: string[] = [
      ...(Array.isArray(args.props.volumes) ? args.props.volumes : []).map(
        (v: { containerPath?: string }) => v.containerPath ?? "",
      ),
      ...(Array.isArray(args.props.mounts) ? args.props.mounts : []).map(
        (m: { target?: string }) => m.target ?? "",
      ),
    ].filter(Boolean);
    for (const t of targets) {
      for (const own of pin.image.ownPaths) {
        if (hides(t, own)) {
          report(
            `container ${service} mounts ${t}, which hides ${own} from its image ${pin.repository}:${pin.tag} (${pin.image.source}); mount the data elsewhere.`,
          );
        }
      }
    }
  },
};
