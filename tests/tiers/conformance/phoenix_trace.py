"""A trace sent the way vLLM sends it, and read back from Phoenix.

Runs in the vLLM container's sandbox with the vLLM container's environment, under the pinned
vLLM's interpreter, and exports one span through vLLM's own exporter factory
(vllm/tracing/otel.py: get_span_exporter(endpoint), a gRPC OTLP exporter with insecure=True
whose headers come from OTEL_EXPORTER_OTLP_TRACES_HEADERS), to the endpoint the container's
--otlp-traces-endpoint names. Then logs in to Phoenix as its admin and looks for the span.

    python phoenix_trace.py          env: PHOENIX_URL, PHOENIX_ADMIN_PASSWORD, VLLM_ARGV (JSON)

Prints what happened and exits 0 only when Phoenix accepted and stored the span.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request


def request(url, method="GET", body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode(), resp.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def flag(argv, name):
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def export(endpoint):
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
    from vllm.tracing.otel import get_span_exporter

    inner = get_span_exporter(endpoint)
    results = []

    class Recording(SpanExporter):
        def export(self, spans):
            result = inner.export(spans)
            results.append(result)
            return result

        def shutdown(self):
            inner.shutdown()

    provider = TracerProvider(resource=Resource.create())
    provider.add_span_processor(SimpleSpanProcessor(Recording()))
    tracer = provider.get_tracer("citadel.conformance")
    with tracer.start_as_current_span("citadel-conformance-span") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    return trace_id, bool(results) and all(r.name == "SUCCESS" for r in results)


def main():
    base = os.environ["PHOENIX_URL"].rstrip("/")
    argv = json.loads(os.environ["VLLM_ARGV"])
    endpoint = flag(argv, "--otlp-traces-endpoint")
    if not endpoint:
        print("the vLLM container sends no traces: its argv has no --otlp-traces-endpoint")
        return 1
    trace_id, exported = export(endpoint)
    print(f"vLLM's exporter to {endpoint}: {'accepted' if exported else 'REFUSED'} (trace {trace_id})")
    if not exported:
        headers = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
        print(
            "Phoenix runs with auth, and the vLLM container's environment carries "
            + ("headers that Phoenix refused" if headers else "no OTEL_EXPORTER_OTLP_TRACES_HEADERS with a Phoenix API key")
        )
        return 1
    status, _, hdrs = request(
        f"{base}/auth/login",
        "POST",
        {"email": "admin@localhost", "password": os.environ["PHOENIX_ADMIN_PASSWORD"]},
    )
    if status != 204:
        print(f"login as Phoenix's admin failed: {status}")
        return 1
    cookies = "; ".join(c.split(";")[0] for c in hdrs.get_all("Set-Cookie") or [])
    # The project the container's OTEL_RESOURCE_ATTRIBUTES names (openinference.project.name),
    # which Resource.create() above read, as vLLM's does; Phoenix's default project otherwise.
    attributes = dict(
        kv.split("=", 1) for kv in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(",") if "=" in kv
    )
    project = attributes.get("openinference.project.name", "default")
    deadline = time.time() + 60
    while time.time() < deadline:
        status, body, _ = request(f"{base}/v1/projects/{project}/spans?limit=100", headers={"Cookie": cookies})
        if status == 200 and trace_id in body:
            print(f"Phoenix stored the span in project {project}")
            return 0
        time.sleep(2)
    print(f"the span never appeared in Phoenix (last answer {status})")
    return 1


if __name__ == "__main__":
    sys.exit(main())
