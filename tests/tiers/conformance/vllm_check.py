"""vLLM's own `vllm serve` argument parsing and engine-config construction, run on a CPU.

    python vllm_check.py <the container's command: what follows `vllm serve`>

The container's environment is this process's environment (HF_HOME, VLLM_API_KEY, OTEL_*, ...).
The model id resolves offline from a Hugging Face cache under HF_HOME that holds only the model's
config.json.

There is no GPU here, so vLLM would choose no platform at all. vLLM's own CudaPlatform is made
current instead, with only its hardware queries answered from the lab's GPUs (CITADEL_GPU_COUNT,
CITADEL_GPU_NAME, CITADEL_GPU_MEMORY_GIB, CITADEL_GPU_CAPABILITY); every validation that runs is
vLLM's. The steps follow vllm/entrypoints/cli/main.py and cli/serve.py at the pinned version:
the serve subparser, ServeSubcommand.validate, AsyncEngineArgs.from_cli_args, and
create_engine_config(usage_context=OPENAI_API_SERVER).

Prints `OK key=value ...` and exits 0, or `FAIL <stage>: <vLLM's message>` and exits 1.
"""

import os
import sys


def lab_cuda_platform():
    """Before anything resolves vllm.platforms.current_platform: make it vLLM's CudaPlatform."""
    from vllm import platforms

    platforms.resolve_current_platform_cls_qualname = lambda: "vllm.platforms.cuda.CudaPlatform"
    from vllm.platforms import cuda
    from vllm.platforms.interface import DeviceCapability

    count = int(os.environ["CITADEL_GPU_COUNT"])
    name = os.environ["CITADEL_GPU_NAME"]
    memory = int(float(os.environ["CITADEL_GPU_MEMORY_GIB"]) * (1 << 30))
    major, minor = (int(x) for x in os.environ["CITADEL_GPU_CAPABILITY"].split("."))
    cls = cuda.CudaPlatform
    answers = {
        "get_device_capability": lambda c, device_id=0: DeviceCapability(major=major, minor=minor),
        "get_device_name": lambda c, device_id=0: name,
        "get_device_total_memory": lambda c, device_id=0: memory,
        "device_count": lambda c: count,
        # GeForce cards have no peer-to-peer access: say so, as NVML would.
        "is_fully_connected": lambda c, ids: False,
    }
    for attr, fn in answers.items():
        setattr(cls, attr, classmethod(fn))
    import torch

    torch.cuda.device_count = lambda: count
    torch.cuda.is_available = lambda: True
    return platforms.current_platform


def main(argv):
    lab_cuda_platform()
    from vllm.entrypoints.cli.serve import ServeSubcommand
    from vllm.usage.usage_lib import UsageContext
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = FlexibleArgumentParser(description="vLLM CLI")
    subparsers = parser.add_subparsers(required=False, dest="subparser")
    serve = ServeSubcommand()
    serve.subparser_init(subparsers).set_defaults(dispatch_function=serve.cmd)

    stage = "parse"
    try:
        args = parser.parse_args(["serve", *argv])
        stage = "validate"
        serve.validate(args)
        if getattr(args, "model_tag", None) is not None:
            args.model = args.model_tag
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.entrypoints.common.cli_args import propagate_flash_late_interaction

        stage = "engine args"
        engine_args = AsyncEngineArgs.from_cli_args(args)
        propagate_flash_late_interaction(args, engine_args)
        stage = "engine config"
        cfg = engine_args.create_engine_config(usage_context=UsageContext.OPENAI_API_SERVER)
    except SystemExit as e:
        print(f"FAIL {stage}: vllm serve's argument parser exited {e.code} (its message is above)")
        return 1
    except Exception as e:  # vLLM's own validation
        print(f"FAIL {stage}: {type(e).__name__}: {e}")
        return 1

    # The metric families this engine config exports (vllm/v1/metrics/loggers.py).
    import prometheus_client
    from vllm.v1.metrics.loggers import PrometheusStatLogger

    PrometheusStatLogger(cfg, engine_indexes=[0])
    families = sorted(
        f"{m.name}{'_total' if m.type == 'counter' else ''}"
        for m in prometheus_client.REGISTRY.collect()
        if m.name.startswith("vllm:")
    )
    print("METRICS " + " ".join(families))

    m, p, c, o = cfg.model_config, cfg.parallel_config, cfg.cache_config, cfg.observability_config
    print(
        "OK "
        f"served_model_name={m.served_model_name} max_model_len={m.max_model_len} dtype={m.dtype} "
        f"tensor_parallel_size={p.tensor_parallel_size} "
        f"disable_custom_all_reduce={p.disable_custom_all_reduce} "
        f"gpu_memory_utilization={c.gpu_memory_utilization} kv_cache_dtype={c.cache_dtype} "
        f"runner={m.runner_type} convert={m.convert_type} "
        f"otlp_traces_endpoint={o.otlp_traces_endpoint} port={args.port} "
        f"api_key_set={bool(args.api_key or os.environ.get('VLLM_API_KEY'))}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
