/** The program `index.ts` runs, callable repeatedly under mocks. */
import { buildLab, loadLab } from "../../components/lab";

export function runLab(): Record<string, unknown> {
  const { lab, secrets, plan } = loadLab();
  return buildLab(lab, secrets, {}, plan).outputs;
}
