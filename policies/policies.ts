/** Every policy of the citadel-guard pack. Importing this starts nothing; index.ts builds the pack. */
import type { Policies } from "@pulumi/policy";
import { disallowHiddenImagePaths } from "./rules/disallow-hidden-image-paths";
import { disallowPlaintextSecrets } from "./rules/disallow-plaintext-secrets";
import { disallowPrivilegedContainers } from "./rules/disallow-privileged-containers";
import { enforceMonitoringPortRange } from "./rules/enforce-monitoring-port-range";
import { enforcePinnedImages } from "./rules/enforce-pinned-images";
import { enforceRetentionLimits } from "./rules/enforce-retention-limits";
import { enforceUniqueHostPorts } from "./rules/enforce-unique-host-ports";
import { preferImageDigests } from "./rules/prefer-image-digests";
import { protectStorageCommands } from "./rules/protect-storage-commands";
import { requireAdminAuth } from "./rules/require-admin-auth";
import { requireBackupCoverage } from "./rules/require-backup-coverage";
import { requireContainerResilience } from "./rules/require-container-resilience";
import { requireFittingVramPlan } from "./rules/require-fitting-vram-plan";
import { requireGpuRequests } from "./rules/require-gpu-requests";
import { requirePinnedHostKeys } from "./rules/require-pinned-host-keys";
import { requireScrapeCoverage } from "./rules/require-scrape-coverage";
import { protectDataChangingPorts } from "./rules/protect-data-changing-ports";

export const POLICIES: Policies = [
  enforcePinnedImages,
  preferImageDigests,
  requireContainerResilience,
  disallowPrivilegedContainers,
  disallowHiddenImagePaths,
  requireGpuRequests,
  enforceUniqueHostPorts,
  enforceMonitoringPortRange,
  requireAdminAuth,
  disallowPlaintextSecrets,
  requirePinnedHostKeys,
  protectStorageCommands,
  requireFittingVramPlan,
  requireScrapeCoverage,
  enforceRetentionLimits,
  requireBackupCoverage,
  protectDataChangingPorts,
];
