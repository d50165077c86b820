/**
 * The citadel-guard policy pack, for `pulumi preview --policy-pack policies`. Constructing a
 * PolicyPack starts a gRPC server, so nothing else imports this file: tests and `npm start`
 * import ./policies.ts.
 */
import { PolicyPack } from "@pulumi/policy";
import { POLICIES } from "./policies";

new PolicyPack("citadel-guard", { policies: POLICIES });
