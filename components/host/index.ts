export * from "./docker";
export * from "./host";
export * from "./nvidia";
export * from "./storage";
export * from "./firewall";
export * from "./firewall-rules";
