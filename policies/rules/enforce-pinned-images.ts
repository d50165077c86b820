import type { ResourceValidationPolicy } from "@pulumi/policy";
import { TYPES } from "../lib/resources";

/** Why an image reference is not pinned, or undefined when it is (a tag other than latest, or a digest). */
export function unpinnedReason(image: string): string | undefined {
  if (/^sha256:[a-f0-9]{64}$/.test(image) || /@sha256:[a-f0-9]{64}$/.test(image)) return undefined;
  const lastSegment = image.split("/").pop() ?? image;
  if (!lastSegment.includes(":")) return `${image} has no tag, so it means latest`;
  if (/:latest$/.test(image)) return `${image} uses the latest tag`;
  return undefined;
}

export const enforcePinnedImages: ResourceValidationPolicy = {
  name: "enforce-pinned-images",
  description:
    "Every image is pinned to an explicit tag or digest, because latest changes under a running lab and a re-pull can silently upgrade or break a service.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    const image =
      args.type === TYPES.remoteImage
        ? args.props.name
        : args.type === TYPES.container
          ? args.props.image
          : undefined;
    if (typeof image !== "string") return;
    const reason = unpinnedReason(image);
    if (reason) report(`${reason}; pin a version such as repo/name:v1.2.3 (a @sha256 digest is better).`);
  },
};
