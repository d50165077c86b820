/** The program `index.ts` runs, callable repeatedly under mocks. */
import { loadLabConfig } from "../../components/config";
import { buildLab } from "../../components/lab";

export function runLab(): Record<string, unknown> {
  const { lab, secrets } = loadLabConfig();
  return buildLab(lab, secrets).outputs;
}
