/**
 * Thrown by `synthesize` when the program fails; says how many resources it had registered. It lives apart
 * from the harness so that a tool can recognise it without loading @pulumi/pulumi.
 */
export class SynthError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly registered: number,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = "SynthError";
  }
}
