export * from "./vram";
export * from "./vllm";
export * from "./services";
export * from "./ladon";
export * from "./ladon-resolve";
export * from "./plan";
export * from "./access";
