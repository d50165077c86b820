export * from "./catalog";
export * from "./resolve";
export * from "./vllm";
export * from "./vram";
