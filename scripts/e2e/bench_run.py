"""One run of nano-vllm's bench.py, unmodified, in this process (a child of
scripts/e2e/bench_e2e.py, which sets PYTHONPATH so that `flash_attn` is the backend's
shim, and HOME so that bench.py's ~/huggingface/Qwen3-0.6B/ is the model).

    python3 bench_run.py --bench third_party/nano-vllm/bench.py --mode graph|eager \\
        [--profile OUT.json]

eager: nanovllm.LLM is replaced, before bench.py imports it, by a subclass that passes
enforce_eager=True (bench.py asks for CUDA graphs). --profile: the timed generate call
(the one with use_tqdm=False) runs under torch.profiler, and the GPU time of every
kernel, summed by name, is written to OUT.json. bench.py's own output line
("Total: ...tok, Time: ...s, Throughput: ...tok/s") is what the driver reads.
"""

import argparse
import collections
import json
import runpy
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bench", required=True)
    parser.add_argument("--mode", choices=("graph", "eager"), required=True)
    parser.add_argument("--profile")
    options = parser.parse_args()

    import nanovllm

    if options.mode == "eager":
        base = nanovllm.LLM

        class EagerLLM(base):
            def __init__(self, model, **kwargs):
                kwargs["enforce_eager"] = True
                super().__init__(model, **kwargs)

        nanovllm.LLM = EagerLLM

    if options.profile:
        import torch
        from nanovllm.engine.llm_engine import LLMEngine

        generate = LLMEngine.generate

        def profiled(self, *args, use_tqdm=True, **kwargs):
            if use_tqdm:  # bench.py's warm-up call
                return generate(self, *args, use_tqdm=use_tqdm, **kwargs)
            activities = [torch.profiler.ProfilerActivity.CUDA]
            with torch.profiler.profile(activities=activities) as profile:
                result = generate(self, *args, use_tqdm=use_tqdm, **kwargs)
            totals = collections.Counter()
            counts = collections.Counter()
            for event in profile.events():
                if event.device_type == torch.autograd.DeviceType.CUDA:
                    totals[event.name] += event.device_time_total
                    counts[event.name] += 1
            with open(options.profile, "w") as out:
                json.dump(
                    {name: [totals[name] / 1e6, counts[name]] for name in totals}, out
                )
            return result

        LLMEngine.generate = profiled

    sys.argv = [options.bench]
    runpy.run_path(options.bench, run_name="__main__")


if __name__ == "__main__":
    main()
