export * from "./schema";
export * from "./secrets";
export * from "./load";
export * from "./units";
export * from "./raid";
export * from "./vllm";
export * from "./ladon";
export * from "./ops";
