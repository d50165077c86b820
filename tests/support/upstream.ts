/**
 * Programs the upstream cache holds at the pins (`npm run upstream` builds them; .ci/run does that
 * before `npm test`). A missing one fails loudly with the command that builds it.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import type { PinName } from "../../components/pins";
import { cacheVersion, entryName } from "../../lib/upstream";
import { cacheRoot } from "../../lib/upstream/cache";

/** The cache directory of `pin` at its pinned version and current recipe, as `npm run upstream` made it. */
export function cachedUpstream(pin: PinName): string {
  const dir = path.join(cacheRoot(), `${entryName(pin)}-${cacheVersion(pin)}`);
  if (!existsSync(dir)) throw new Error(`${pin} is not built in ${dir}: run npm run upstream -- ${pin}`);
  return dir;
}
