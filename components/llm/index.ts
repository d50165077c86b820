export * from "./vllm";
