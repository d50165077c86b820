import type { ResourceValidationPolicy } from "@pulumi/policy";
import { TYPES } from "../lib/resources";

export const preferImageDigests: ResourceValidationPolicy = {
  name: "prefer-image-digests",
  description:
    "Images are best pinned by digest, because a tag can be moved on the registry while a digest always names the same bytes.",
  enforcementLevel: "advisory",
  validateResource: (args, report) => {
    if (args.type !== TYPES.remoteImage || typeof args.props.name !== "string") return;
    if (!/@sha256:[a-f0-9]{64}$/.test(args.props.name)) {
      report(`${args.props.name} is pinned by tag only; append @sha256:<digest> once you have pulled it.`);
    }
  },
};
