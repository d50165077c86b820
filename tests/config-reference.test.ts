/**
 * The configuration reference is generated from the schema, and each JSDoc `@default` in
 * components/config says what the schema applies: a default written in a comment cannot drift
 * from the one the loader uses.
 */
import {
  jsdocByShape,
  labJsonSchema,
  renderConfigReference,
  sections,
  statedDefault,
} from "../tools/docs/configuration";

describe("the configuration reference", () => {
  const all = sections().flatMap((s) => s.keys);

  it("lists every key of the schema, with the schema's default", () => {
    const text = renderConfigReference();
    // Keys the loader accepts, from the schema itself; each has a row under its object's heading.
    expect(all.length).toBeGreaterThan(100);
    for (const section of sections()) {
      const heading = section.path === "" ? "## Top-level keys" : `## \`${section.path}\``;
      const body = text.slice(text.indexOf(`${heading}\n`));
      expect(text).toContain(`${heading}\n`);
      for (const key of section.keys) {
        const name = key.path.slice(section.path === "" ? 0 : section.path.length + 1);
        const row = body.split("\n").find((l) => l.startsWith(`| \`${name}\` |`));
        expect(row).toBeDefined();
        if (key.node.default !== undefined)
          expect(row).toContain(JSON.stringify(key.node.default).replace(/^"|"$/g, ""));
      }
    }
  });

  it("shows a range and an example where the schema has them (ssh.port: 1 to 65535, 22)", () => {
    const text = renderConfigReference();
    expect(text).toContain("| `port` | integer | `22` | ≥ 1, ≤ 65535 | `22` |");
  });

  it("every JSDoc @default agrees with the schema: a value equals its default, prose marks an optional key", () => {
    const problems: string[] = [];
    let checked = 0;
    for (const key of all) {
      const stated = key.doc?.default;
      if (stated === undefined) {
        if (key.node.default !== undefined && typeof key.node.default !== "object")
          problems.push(
            `${key.path}: the schema defaults to ${JSON.stringify(key.node.default)}, its JSDoc has no @default`,
          );
        continue;
      }
      checked++;
      const value = statedDefault(stated);
      if (value) {
        if (JSON.stringify(value.value) !== JSON.stringify(key.node.default))
          problems.push(
            `${key.path} (${key.doc?.file}): JSDoc says @default ${stated}, the schema ${key.node.default === undefined ? "has no default" : `defaults to ${JSON.stringify(key.node.default)}`}`,
          );
      } else if (key.required) {
        problems.push(
          `${key.path} (${key.doc?.file}): JSDoc says @default ${stated}, but the schema requires it`,
        );
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });

  it("catches a JSDoc @default that disagrees with the schema", () => {
    const docs = jsdocByShape();
    const ssh = [...docs.entries()].find(([id]) => id === "auth,hostKey,port,user")?.[1];
    expect(ssh?.get("port")?.default).toBe("22");
    ssh?.set("port", { file: "x.ts", text: "", default: "2222" });
    const port = sections(labJsonSchema(), docs)
      .flatMap((s) => s.keys)
      .find((k) => k.path === "citadel:hosts.<host>.ssh.port");
    expect(statedDefault(port?.doc?.default as string)?.value).toBe(2222);
    expect(port?.node.default).toBe(22);
  });
});
