/**
 * Defaults written once, for the components' arguments: each `@default` a `FooArgs` interface's
 * JSDoc states as a value is the value its code applies (`args.key ?? value`, a parameter or
 * binding default of that name, or a pass-through to another argument documented with the same
 * default). A constant is read where it is declared, so `?? DEFAULT_SCRUB_SCHEDULE` is held to the
 * constant the zod schema's `.default(...)` uses too. The config keys' JSDoc is held to the schema
 * by tests/config-reference.test.ts.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { statedDefault } from "../tools/docs/configuration";

const ROOT = path.join(__dirname, "..");

/** Source text by repo-relative path; a test swaps one file's text to prove the check fails. */
type Reader = (file: string) => string;
const fromDisk: Reader = (file) => readFileSync(path.join(ROOT, file), "utf8");

function componentFiles(): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      const r = path.posix.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.name.endsWith(".ts")) out.push(r);
    }
  };
  walk("components");
  // components/config's keys are held to the zod schema by tests/config-reference.test.ts.
  return out.filter((f) => !f.startsWith("components/config/")).sort();
}

const parsed = new WeakMap<Reader, Map<string, ts.SourceFile>>();
function parse(file: string, read: Reader): ts.SourceFile {
  const files = parsed.get(read) ?? new Map<string, ts.SourceFile>();
  parsed.set(read, files);
  let src = files.get(file);
  if (!src) {
    src = ts.createSourceFile(file, read(file), ts.ScriptTarget.Latest, true);
    files.set(file, src);
  }
  return src;
}

/** The repo file a relative import names. */
function moduleFile(from: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  return [`${base}.ts`, `${base}/index.ts`].find((f) => existsSync(path.join(ROOT, f)));
}

/** The initializer of the constant `name` that `file` declares or imports. */
function constant(name: string, file: string, read: Reader, exported = false): ts.Expression | undefined {
  const src = parse(file, read);
  for (const st of src.statements) {
    if (ts.isVariableStatement(st) && ts.getCombinedNodeFlags(st.declarationList) & ts.NodeFlags.Const) {
      const isExported = st.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword) ?? false;
      for (const d of st.declarationList.declarations)
        if (ts.isIdentifier(d.name) && d.name.text === name && d.initializer && (!exported || isExported))
          return d.initializer;
    }
    const spec =
      (ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) &&
      st.moduleSpecifier &&
      ts.isStringLiteral(st.moduleSpecifier)
        ? st.moduleSpecifier.text
        : undefined;
    const target = spec ? moduleFile(file, spec) : undefined;
    if (!target) continue;
    if (ts.isImportDeclaration(st) && !exported) {
      const named = st.importClause?.namedBindings;
      const el =
        named && ts.isNamedImports(named) ? named.elements.find((e) => e.name.text === name) : undefined;
      if (el) return constant((el.propertyName ?? el.name).text, target, read, true);
    }
    if (ts.isExportDeclaration(st) && exported) {
      if (!st.exportClause) {
        const found = constant(name, target, read, true);
        if (found) return found;
      } else if (ts.isNamedExports(st.exportClause)) {
        const el = st.exportClause.elements.find((e) => e.name.text === name);
        if (el) return constant((el.propertyName ?? el.name).text, target, read, true);
      }
    }
  }
  return undefined;
}

/** The value of a literal expression (constants followed to their declaration), or undefined. */
function valueOf(e: ts.Expression, file: string, read: Reader): { value: unknown } | undefined {
  if (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e))
    return valueOf(e.expression, file, read);
  if (ts.isNumericLiteral(e)) return { value: Number(e.text) };
  if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return { value: e.text };
  if (e.kind === ts.SyntaxKind.TrueKeyword) return { value: true };
  if (e.kind === ts.SyntaxKind.FalseKeyword) return { value: false };
  if (ts.isArrayLiteralExpression(e)) {
    const items = e.elements.map((x) => valueOf(x, file, read));
    return items.every((x) => x) ? { value: items.map((x) => x?.value) } : undefined;
  }
  if (ts.isObjectLiteralExpression(e) && e.properties.length === 0) return { value: {} };
  if (ts.isIdentifier(e)) {
    const init = constant(e.text, file, read);
    return init ? valueOf(init, file, read) : undefined;
  }
  return undefined;
}

interface Documented {
  file: string;
  where: string;
  key: string;
  stated: string;
  value: unknown;
}

/** Every `FooArgs` property whose JSDoc `@default` states a value. */
function documented(read: Reader): Documented[] {
  const out: Documented[] = [];
  for (const file of componentFiles()) {
    const visit = (n: ts.Node): void => {
      if (ts.isInterfaceDeclaration(n) && n.name.text.endsWith("Args"))
        for (const m of n.members) {
          if (!ts.isPropertySignature(m)) continue;
          for (const tag of ts.getJSDocTags(m).filter((t) => t.tagName.text === "default")) {
            const stated = (ts.getTextOfJSDocComment(tag.comment) ?? "").trim();
            const value = statedDefault(stated);
            if (value)
              out.push({
                file,
                where: `${n.name.text}.${m.name.getText()}`,
                key: m.name.getText(),
                stated,
                ...value,
              });
          }
        }
      ts.forEachChild(n, visit);
    };
    visit(parse(file, read));
  }
  return out;
}

/** Where `file` applies a default to `key`: the applied expressions, and keys it passes `key` on to. */
function applications(file: string, key: string, read: Reader) {
  const applied: ts.Expression[] = [];
  const passedTo: string[] = [];
  const visit = (n: ts.Node): void => {
    if (
      ts.isBinaryExpression(n) &&
      n.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken &&
      ts.isPropertyAccessExpression(n.left) &&
      n.left.name.text === key
    )
      applied.push(n.right);
    if ((ts.isParameter(n) || ts.isBindingElement(n)) && n.initializer) {
      const name = ts.isBindingElement(n) && n.propertyName ? n.propertyName : n.name;
      if (ts.isIdentifier(name) && name.text === key) applied.push(n.initializer);
    }
    if (
      ts.isPropertyAssignment(n) &&
      ts.isPropertyAccessExpression(n.initializer) &&
      n.initializer.name.text === key &&
      ts.isIdentifier(n.name)
    )
      passedTo.push(n.name.text);
    ts.forEachChild(n, visit);
  };
  visit(parse(file, read));
  return { applied, passedTo };
}

/** Each documented default that its code does not apply, as one line. */
function disagreements(read: Reader): { checked: number; problems: string[] } {
  const docs = documented(read);
  const problems: string[] = [];
  for (const d of docs) {
    const { applied, passedTo } = applications(d.file, d.key, read);
    const want = JSON.stringify(d.value);
    for (const e of applied) {
      const got = valueOf(e, d.file, read);
      if (!got)
        problems.push(
          `${d.file} ${d.where}: @default ${d.stated}, applied as \`${e.getText()}\`, not a value`,
        );
      else if (JSON.stringify(got.value) !== want)
        problems.push(
          `${d.file} ${d.where}: @default ${d.stated}, but the code applies ${JSON.stringify(got.value)}`,
        );
    }
    // Passed on to another component's argument: that one's @default must be the same.
    const onward = docs.filter((o) => o !== d && passedTo.includes(o.key));
    for (const o of onward)
      if (JSON.stringify(o.value) !== want)
        problems.push(
          `${d.file} ${d.where}: @default ${d.stated}, passed to ${o.where} whose @default is ${o.stated}`,
        );
    if (applied.length === 0 && onward.length === 0)
      problems.push(`${d.file} ${d.where}: @default ${d.stated}, and the code applies no default to it`);
  }
  return { checked: docs.length, problems };
}

describe("the components' argument defaults", () => {
  it("every FooArgs JSDoc @default is the value its code applies", () => {
    const { checked, problems } = disagreements(fromDisk);
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });

  it("catches a default changed in the code but not in the JSDoc (Nvidia's reboot timeout)", () => {
    const file = "components/host/nvidia.ts";
    const text = fromDisk(file);
    expect(text).toContain("args.rebootTimeoutSeconds ?? 900");
    const swapped: Reader = (f) =>
      f === file ? text.replace("rebootTimeoutSeconds ?? 900", "rebootTimeoutSeconds ?? 600") : fromDisk(f);
    expect(disagreements(swapped).problems).toEqual([
      `${file} NvidiaArgs.rebootTimeoutSeconds: @default 900, but the code applies 600`,
    ]);
  });

  it("follows a constant to its declaration: the scrub schedule the schema defaults to", () => {
    // storage.ts applies DEFAULT_SCRUB_SCHEDULE, imported through components/config/index.ts from
    // raid.ts, the constant the schema's `.default(...)` uses.
    const raid = "components/config/raid.ts";
    const text = fromDisk(raid);
    const swapped: Reader = (f) =>
      f === raid ? text.replace('"Sun *-*-1..7 01:00:00"', '"Mon *-*-1..7 01:00:00"') : fromDisk(f);
    expect(disagreements(swapped).problems).toEqual([
      'components/host/storage.ts StorageArgs.scrubSchedule: @default "Sun *-*-1..7 01:00:00", but the code applies "Mon *-*-1..7 01:00:00"',
    ]);
  });
});
