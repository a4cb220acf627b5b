"""Per-call cost from Python, run by `cargo bench -p emma-bindings --bench ffi_overhead`.

Usage: bench.py <data dir> <trivial calls> <processText calls> <sentence>
Prints `trivial_ns=… process_text_ns=… peak_rss_kib=…`.
"""
import asyncio
import resource
import sys
import time

from emma import Assistant, AssistantConfig

data_dir, trivial, texts, sentence = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]


async def main():
    a = Assistant(AssistantConfig(data_dir=data_dir, load_skills=False))
    await a.start()
    for _ in range(trivial // 10):
        a.is_running()
    t0 = time.perf_counter_ns()
    for _ in range(trivial):
        a.is_running()
    trivial_ns = (time.perf_counter_ns() - t0) / trivial
    for _ in range(texts // 10 + 1):
        await a.process_text(sentence)
    t0 = time.perf_counter_ns()
    for _ in range(texts):
        await a.process_text(sentence)
    text_ns = (time.perf_counter_ns() - t0) / texts
    await a.stop()
    return trivial_ns, text_ns


trivial_ns, text_ns = asyncio.run(main())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
print(f"trivial_ns={trivial_ns} process_text_ns={text_ns} peak_rss_kib={peak}")
