/**
 * The one problem type: a config rule, a plan check or a warning that a lab breaks. `path` is where:
 * a key path relative to the section a rule checks (`["servers", "chat", "port"]`), or, once the
 * loader has placed it, the full config path (`citadel:vllm.servers.chat.port`). `message` says
 * the rule broken and one fix that works; `example` is a valid value, when the schema knows one.
 */
export interface Problem<Path = KeyPath> {
  path: Path;
  message: string;
  /** A valid value for that path, when the schema knows one. */
  example?: unknown;
}

/** A key path under the section a rule checks. */
export type KeyPath = (string | number)[];
