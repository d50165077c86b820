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

/** Most points query_range gives one series (web/api/v1/api.go@v0.315.0). */
export const MAX_POINTS = 11000;

export class Prometheus {
  constructor(
    readonly url: string,
    private readonly timeoutMs = 120_000,
  ) {}

  private async get<T>(path: string, params: Record<string, string>): Promise<T> {
    const url = `${this.url.replace(/\/$/, "")}${path}?${new URLSearchParams(params).toString()}`;
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
      throw new PrometheusError(`cannot reach Prometheus at ${this.url}: ${cause}`);
    }
    const text = await res.text();
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
