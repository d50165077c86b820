/**
 * Runs the citadel program under Pulumi's mocks runtime and records every registration exactly as
 * the engine would receive it: inputs (secrets masked), parent, dependencies, provider and options
 * such as protect and retainOnDelete. Used by `npm start` and by the tests.
 */
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_SOURCE_ENV, NAMESPACE } from "../../components/config";
import { publishedFiles, resetPublishedFiles } from "../../components/remote";
import { configWarnings, placeholderSecrets, type StackFile } from "./stackfile";
import { SynthError } from "./errors";

export { SynthError };

export const SECRET_MASK = "[secret]";
/** The parts of a command's connection that are credentials. */
const CONNECTION_CREDENTIALS = ["password", "privateKey", "privateKeyPassword"];
const SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17";
const RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e";
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface ResourceRecord {
  urn: string;
  type: string;
  name: string;
  custom: boolean;
  parent: string | null;
  inputs: Record<string, unknown>;
  protect: boolean;
  retainOnDelete: boolean;
  dependsOn: string[];
  provider: string | null;
  deleteBeforeReplace: boolean;
  ignoreChanges: string[];
  replaceOnChanges: string[];
  additionalSecretOutputs: string[];
  /** `customTimeouts` as the engine receives them (create/update/delete), or null. */
  customTimeouts: { create: string; update: string; delete: string } | null;
  /** Input names whose values were secret (masked in `inputs`). */
  secretInputs: string[];
  /** Inputs with secrets unwrapped, as policies see them. Never written to out/. */
  rawInputs: Record<string, unknown>;
}

export interface SynthResult {
  resources: ResourceRecord[];
  /** Stack outputs, secrets masked. */
  outputs: Record<string, unknown>;
  /** Rendered files by host path, as they would reach the host. */
  files: Map<string, string>;
  /** Secrets replaced by placeholders because the stack file cannot provide them. */
  placeholders: string[];
  /** The config's warnings (legal but probably not meant); they never fail a run. @default [] */
  warnings?: { path: string; message: string }[];
}

/**
 * Decodes serialized inputs: secrets become "[secret]" (or their value with `reveal`), assets
 * their text, resource references their URN. Keys are sorted so the output is stable.
 */
export function sanitize(value: unknown, secretPaths?: Set<string>, at = "", reveal = false): unknown {
  if (Array.isArray(value)) return value.map((v, i) => sanitize(v, secretPaths, `${at}[${i}]`, reveal));
  if (value === UNKNOWN) return "[unknown]";
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const sig = obj[SIG];
    if (sig === SECRET_SIG) {
      secretPaths?.add(at);
      if (reveal) return sanitize(obj.value, undefined, at, reveal);
      // @pulumi/command marks a command's whole `connection` secret; only its credentials are, so a
      // reviewer still sees which host and user a command reaches.
      if (at === "connection" && obj.value !== null && typeof obj.value === "object") {
        const shown = sanitize(obj.value, undefined, at, false) as Record<string, unknown>;
        for (const k of CONNECTION_CREDENTIALS) if (k in shown) shown[k] = SECRET_MASK;
        return shown;
      }
      return SECRET_MASK;
    }
    if (sig === ASSET_SIG) return { asset: obj.text ?? obj.path ?? obj.uri };
    if (sig === RESOURCE_SIG) return obj.urn;
    return Object.fromEntries(
      Object.keys(obj)
        .sort()
        .map((k) => [k, sanitize(obj[k], secretPaths, at ? `${at}.${k}` : k, reveal)]),
    );
  }
  return value;
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
  getProtect(): boolean;
  getRetainondelete(): boolean;
  getDependenciesList(): string[];
  getProvider(): string;
  getDeletebeforereplace(): boolean;
  getIgnorechangesList(): string[];
  getReplaceonchangesList(): string[];
  getAdditionalsecretoutputsList(): string[];
  getCustomtimeouts():
    { toObject(): { create: string; update: string; pb_delete?: string; delete?: string } } | undefined;
}
type Callback = (err: unknown, resp: { getUrn(): string } | undefined) => void;
interface PatchableMonitor {
  registerResource(req: RegisterRequest, cb: Callback): Promise<void>;
}

/** Outputs a provider would compute, given readable stand-in values so out/ stays reviewable. */
const COMPUTED: Record<string, (inputs: Record<string, unknown>) => Record<string, unknown>> = {
  "docker:index/remoteImage:RemoteImage": (inputs) => ({ imageId: inputs.name }),
  // A command's output as if it printed nothing (the reboot check then reports no reboot).
  "command:remote:Command": () => ({ stdout: "", stderr: "" }),
  "command:local:Command": () => ({ stdout: "", stderr: "" }),
};

function mocksWith(outputs: SynthOptions["outputs"]): pulumi.runtime.Mocks {
  return {
    newResource: (args) => ({
      id: args.custom === false ? undefined : `${args.name}-id`,
      state: {
        ...args.inputs,
        ...(COMPUTED[args.type]?.(args.inputs) ?? {}),
        ...(outputs?.(args.type, args.name) ?? {}),
      },
    }),
    call: (args) => args.inputs,
  };
}

function timeoutsOf(
  t: { create: string; update: string; pb_delete?: string; delete?: string } | undefined,
): ResourceRecord["customTimeouts"] {
  if (!t || (!t.create && !t.update && !(t.pb_delete ?? t.delete))) return null;
  return { create: t.create, update: t.update, delete: t.pb_delete ?? t.delete ?? "" };
}

/** Provider references arrive as `urn::id`; keep the URN. */
function providerUrn(ref: string): string | null {
  if (!ref) return null;
  const cut = ref.lastIndexOf("::");
  return cut > 0 ? ref.slice(0, cut) : ref;
}

async function resolveOutputs(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    const out = value as unknown as {
      promise(withUnknowns?: boolean): Promise<unknown>;
      isSecret: Promise<boolean>;
    };
    if (await out.isSecret) return SECRET_MASK;
    return resolveOutputs(await out.promise(true));
  }
  if (Array.isArray(value)) return Promise.all(value.map(resolveOutputs));
  if (value !== null && typeof value === "object" && !(value instanceof pulumi.Resource)) {
    const entries = await Promise.all(
      Object.keys(value as object)
        .sort()
        .map(async (k) => [k, await resolveOutputs((value as Record<string, unknown>)[k])] as const),
    );
    return Object.fromEntries(entries);
  }
  if (value === undefined) return null;
  return value;
}

export interface SynthOptions {
  /** The stack file's contents. */
  stack: StackFile;
  /** The program to run; it reads config through the engine like `index.ts`. */
  program: () => Record<string, unknown>;
  /** Run as a preview (outputs unknown). @default false */
  preview?: boolean;
  /** Secret values to use instead of placeholders, as `pulumi config set --secret` would. @default {} */
  secrets?: Record<string, string>;
  /**
   * Outputs a resource reports instead of the stand-ins above (by type and name). The e2e tier
   * gives each command a marker stdout, which it replaces with the real one when it applies.
   * @default none
   */
  outputs?: (type: string, name: string) => Record<string, unknown> | undefined;
}

/** Runs `program` once under mocks against `stack`. Throws what the program throws. */
export async function synthesize(opts: SynthOptions): Promise<SynthResult> {
  const { stack } = opts;
  const placeholders = placeholderSecrets(stack);
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(stack.values)) {
    config[`${NAMESPACE}:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
  }
  for (const [key, value] of Object.entries({ ...placeholders, ...(opts.secrets ?? {}) })) {
    config[`${NAMESPACE}:${key}`] = value;
    secretKeys.push(`${NAMESPACE}:${key}`);
  }
  for (const [key, value] of Object.entries(stack.foreign)) {
    config[key] = typeof value === "string" ? value : JSON.stringify(value);
  }

  resetPublishedFiles();
  // Config errors name the file that was read (components/config/load.ts).
  if (stack.source) process.env[CONFIG_SOURCE_ENV] = stack.source;
  else delete process.env[CONFIG_SOURCE_ENV];
  await pulumi.runtime.setMocks(mocksWith(opts.outputs), "citadel", stack.stack, opts.preview ?? false);
  pulumi.runtime.setAllConfig(config, secretKeys);

  const records: ResourceRecord[] = [];
  const monitor = pulumi.runtime.getMonitor() as unknown as PatchableMonitor;
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) =>
    original(req, (err, resp) => {
      if (!err && resp) {
        const secretPaths = new Set<string>();
        const serialized = req.getObject()?.toJavaScript() ?? {};
        const inputs = sanitize(serialized, secretPaths) as Record<string, unknown>;
        records.push({
          urn: resp.getUrn(),
          type: req.getType(),
          name: req.getName(),
          custom: req.getCustom(),
          parent: req.getParent() || null,
          inputs,
          protect: req.getProtect(),
          retainOnDelete: req.getRetainondelete(),
          dependsOn: [...new Set(req.getDependenciesList())].sort(),
          provider: providerUrn(req.getProvider()),
          deleteBeforeReplace: req.getDeletebeforereplace(),
          ignoreChanges: req.getIgnorechangesList(),
          replaceOnChanges: req.getReplaceonchangesList(),
          additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
          customTimeouts: timeoutsOf(req.getCustomtimeouts()?.toObject()),
          secretInputs: [...secretPaths].sort(),
          rawInputs: sanitize(serialized, undefined, "", true) as Record<string, unknown>,
        });
      }
      cb(err, resp);
    });

  let resolved: Record<string, unknown>;
  // @pulumi/pulumi captures a stack trace for every promise it tracks (runtime/debuggable.js,
  // `new Error().stack`) and for every resource's source position (resource.js, `callsites()`).
  // Formatting those through the source maps that tsx and jest install was three quarters of a
  // synth's CPU time (`npm run bench`). Nothing recorded here reads them, and no user is shown a
  // stack trace, so they are off while the program runs; CITADEL_SYNTH_STACKS=1 keeps them for
  // debugging the program itself.
  const stackTraceLimit = Error.stackTraceLimit;
  if (!process.env.CITADEL_SYNTH_STACKS) Error.stackTraceLimit = 0;
  try {
    resolved = (await resolveOutputs(opts.program())) as Record<string, unknown>;
    await waitForRegistrations();
  } catch (err) {
    await waitForRegistrations().catch(() => undefined);
    throw new SynthError(err, records.length);
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  records.sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
  const files = new Map([...publishedFiles().entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  const placeholdersUsed = Object.keys(placeholders).filter((k) => !(k in (opts.secrets ?? {})));
  return {
    resources: records,
    outputs: resolved,
    files,
    placeholders: placeholdersUsed,
    warnings: configWarnings(stack),
  };
}

/** Waits until every registration and output RPC the program started has finished. */
async function waitForRegistrations(): Promise<void> {
  const runtime = pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> };
  if (typeof runtime.waitForRPCs !== "function")
    throw new Error("@pulumi/pulumi no longer exposes waitForRPCs");
  await runtime.waitForRPCs();
}
