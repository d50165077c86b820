/**
 * A minimal client for Prometheus's HTTP API, as web/api/v1/api.go@v0.315.0 serves it:
 * `/api/v1/query` (query, time) answers a vector; `/api/v1/query_range` (query, start, end, step)
 * answers a matrix and refuses more than 11,000 points per series. Both answer
 * `{status: "success", data: {resultType, result}}` or `{status: "error", errorType, error}`.
 */

export class PrometheusError extends Error {
  override name = "PrometheusError";
}

export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export interface Series {
  metric: Record<string, string>;
  /** [unix seconds, value] */
  values: [number, number][];
}

/** Where `npm run assess` reads Prometheus's basic-auth password (citadel:prometheusPassword). */
export const PROMETHEUS_PASSWORD_ENV = "CITADEL_PROMETHEUS_PASSWORD";

/** Most points query_range gives one series (web/api/v1/api.go@v0.315.0). */
export const MAX_POINTS = 11000;

/** Prometheus's basic-auth login (components/ladon/webauth.ts). */
export interface PrometheusLogin {
  username: string;
  password: string;
}

export class Prometheus {
  constructor(
    readonly url: string,
    private readonly timeoutMs = 120_000,
    private readonly login?: PrometheusLogin,
  ) {}

  private async get<T>(path: string, params: Record<string, string>): Promise<T> {
    const url = `${this.url.replace(/\/$/, "")}${path}?${new URLSearchParams(params).toString()}`;
    let res: Response;
    try {
      const headers: Record<string, string> = this.login
        ? {
            authorization: `Basic ${Buffer.from(`${this.login.username}:${this.login.password}`).toString("base64")}`,
          }
        : {};
      res = await fetch(url, { headers, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
      throw new PrometheusError(`cannot reach Prometheus at ${this.url}: ${cause}`);
    }
    const text = await res.text();
    // The web config's basic auth answers 401 to a request without the right login
    // (exporter-toolkit web/handler.go@v0.20.0); the password is never part of the message.
    if (res.status === 401)
      throw new PrometheusError(
        `${this.url} refused ${this.login ? "the login" : "a request without a login"} (401): set ${PROMETHEUS_PASSWORD_ENV} to the stack's citadel:prometheusPassword, e.g. ${PROMETHEUS_PASSWORD_ENV}="$(pulumi config get citadel:prometheusPassword)"`,
      );
    let body: { status?: string; data?: T; error?: string; errorType?: string };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new PrometheusError(
        `${this.url}${path} answered ${res.status}, not Prometheus's JSON: ${text.slice(0, 200)}`,
      );
    }
    if (body.status !== "success" || body.data === undefined) {
      throw new PrometheusError(
        `${this.url}${path} answered ${res.status} ${body.errorType ?? ""}: ${body.error ?? text.slice(0, 300)}\nquery: ${params.query}`,
      );
    }
    return body.data;
  }

  /** An instant query's vector at `time` (unix seconds). */
  async instant(query: string, time: number): Promise<Sample[]> {
    const data = await this.get<{
      resultType: string;
      result: { metric: Record<string, string>; value: [number, string] }[];
    }>("/api/v1/query", { query, time: String(time) });
    if (data.resultType !== "vector")
      throw new PrometheusError(`expected a vector for ${query}, got ${data.resultType}`);
    return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }

  /** A range query's matrix from `start` to `end` (unix seconds) every `step` seconds. */
  async range(query: string, start: number, end: number, step: number): Promise<Series[]> {
    if ((end - start) / step > MAX_POINTS)
      throw new PrometheusError(
        `a range of ${end - start} s at ${step} s steps is more than ${MAX_POINTS} points`,
      );
    const data = await this.get<{
      resultType: string;
      result: { metric: Record<string, string>; values: [number, string][] }[];
    }>("/api/v1/query_range", { query, start: String(start), end: String(end), step: String(step) });
    if (data.resultType !== "matrix")
      throw new PrometheusError(`expected a matrix for ${query}, got ${data.resultType}`);
    return data.result.map((r) => ({ metric: r.metric, values: r.values.map(([t, v]) => [t, Number(v)]) }));
  }
}
