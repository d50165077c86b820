/**
 * Every file the program renders for a host (scripts, configs, dashboards), recorded as it would
 * reach the host. `npm start` writes them under `out/files/`; a real run only keeps them in memory.
 */
const files = new Map<string, string>();

/** Records a rendered file. The same path may be published twice only with the same content. */
export function publishFile(path: string, content: string): void {
  const existing = files.get(path);
  if (existing !== undefined && existing !== content) {
    throw new Error(`two different files were rendered for ${path}; give each resource its own name`);
  }
  files.set(path, content);
}

export function publishedFiles(): ReadonlyMap<string, string> {
  return files;
}

/** Forgets every published file; the synth harness calls it before each program run. */
export function resetPublishedFiles(): void {
  files.clear();
}
