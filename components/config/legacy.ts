/** The migration of a `citadel:vllm` written for one server, said as a config problem. */
import { stringify } from "yaml";
import type { ConfigProblem } from "./errors";
import { NAMESPACE } from "./source";
import { SECTION_KEYS, SERVER_KEYS } from "./vllm";

/**
 * A `citadel:vllm` written for one server (its keys at the top, before `servers` existed). The
 * migration is one move: the server's keys go under `servers.<name>`; the problem prints the
 * section as it should read, with the name `chat` (or `embed`/`rerank` after its kind).
 */
export function legacyVllmProblem(section: unknown): ConfigProblem | undefined {
  if (typeof section !== "object" || section === null || Array.isArray(section)) return undefined;
  const entries = Object.entries(section as Record<string, unknown>);
  // A key the section has too (reserveGiB, the servers' fallback) is the section's, not a server's.
  const moved = entries.filter(([k]) => SERVER_KEYS.includes(k) && !SECTION_KEYS.includes(k));
  if (moved.length === 0) return undefined;
  const shared = Object.fromEntries(
    entries.filter(([k]) => !moved.some(([m]) => m === k) && k !== "servers"),
  );
  // Servers already written under `servers` stay in the section as it should read.
  const existing = (section as { servers?: unknown }).servers;
  const servers =
    typeof existing === "object" && existing !== null && !Array.isArray(existing) ? existing : {};
  const server = Object.fromEntries(moved);
  const kind = typeof server.kind === "string" ? server.kind : "generate";
  const name = kind === "generate" ? "chat" : kind;
  // The single server used port 8000 by default; a server now names its own.
  if (server.port === undefined) server.port = 8000;
  const migrated = stringify(
    { [`${NAMESPACE}:vllm`]: { ...shared, servers: { ...servers, [name]: server } } },
    { indent: 2 },
  );
  return {
    path: `${NAMESPACE}:vllm`,
    message:
      `${moved.map(([k]) => k).join(", ")} now belong to one server under ${NAMESPACE}:vllm.servers.<name>, ` +
      `so that several models can run side by side (README, "vLLM servers"). Move them there; ` +
      `the section then reads:\n${migrated.trimEnd().replace(/^/gm, "      ")}\n    ` +
      `The server's container becomes vllm-${name}: the first pulumi up after the move replaces the old vllm container once (the model cache is kept).`,
  };
}
