/** Byte sizes written the way operators write them: "100GiB", "3TiB", "512MiB". */

const UNITS: Record<string, number> = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
};

export const SIZE_PATTERN = /^(\d+(?:\.\d+)?)(B|KiB|MiB|GiB|TiB)$/;

/** Parses "3TiB" into bytes; returns undefined for anything that is not a size. */
export function parseSize(text: string): number | undefined {
  const match = SIZE_PATTERN.exec(text);
  if (!match) return undefined;
  const [, amount, unit] = match;
  return Math.round(Number(amount) * (UNITS[unit as string] as number));
}

/** Formats bytes with the largest binary unit that keeps the number at or above 1. */
export function formatSize(bytes: number): string {
  const order = ["TiB", "GiB", "MiB", "KiB"] as const;
  for (const unit of order) {
    const size = UNITS[unit] as number;
    if (bytes >= size) {
      const value = bytes / size;
      return `${Number.isInteger(value) ? value : value.toFixed(2)}${unit}`;
    }
  }
  return `${bytes}B`;
}
