/**
 * Citadel: the composition root. It loads the lab config once through the one schema (every
 * problem is reported before any resource is registered), builds the components, and exports
 * the stack outputs.
 */
import { buildLab, loadLab } from "./components/lab";

const { lab, secrets, plan } = loadLab();
const built = buildLab(lab, secrets, {}, plan);

/** Per host: address, mounts, NVIDIA driver branch, GPU count and Docker version. */
export const hosts = built.outputs.hosts;
/** vLLM: per server its OpenAI base URL, served name, kind and VRAM share; the per-GPU plan. */
export const vllm = built.outputs.vllm;
/** LadonStack: Grafana's URL, Phoenix's OTLP endpoints (for HADES) and the monitoring port registry. */
export const ladon = built.outputs.ladon;
/** The vLLM API key, as a secret: `pulumi stack output vllmApiKey --show-secrets`. */
export const vllmApiKey = built.outputs.vllmApiKey;
/**
 * What HADES needs (chat, embeddings and rerank base URLs, Phoenix project, OTLP endpoints and its
 * own API key), as a secret: `pulumi stack output hades --show-secrets`.
 */
export const hades = built.outputs.hades;
