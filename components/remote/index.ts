export * from "./artifacts";
export * from "./command";
export * from "./host";
export * from "./shell";
export * from "./systemd";
