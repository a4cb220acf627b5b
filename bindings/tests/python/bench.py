"""Per-call cost from Python, run by `cargo bench -p emma-bindings --bench ffi_overhead`.

Usage: bench.py <data dir> <trivial calls> <processText calls> <sentence>
Prints `trivial_ns=… start_again_ns=… process_text_ns=… process_text_median_ns=…
blocking_ns=… blocking_median_ns=… generated_lower_ns=… generated_read_ns=… peak_rss_kib=…`
(start_again: `start` on a started assistant, a trivial async call, 10 × processText
calls; process_text and process_text_blocking: mean and median of the timed calls;
generated_*: the generated code's own work in a processTextBlocking call, timed alone,
see `generated_parts`).
"""
import asyncio
import atexit
import resource
import sys
import time

import emma
from emma import Assistant, AssistantConfig, wait_for_callbacks

atexit.register(wait_for_callbacks, 5000)  # see support.py

data_dir, trivial, texts, sentence = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
starts = texts * 10


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
    for _ in range(starts // 10):
        await a.start()
    t0 = time.perf_counter_ns()
    for _ in range(starts):
        await a.start()
    start_ns = (time.perf_counter_ns() - t0) / starts
    each = []
    for _ in range(texts):
        t0 = time.perf_counter_ns()
        await a.process_text(sentence)
        each.append(time.perf_counter_ns() - t0)
    text_ns = sum(each) / texts
    median_ns = sorted(each)[texts // 2]
    # The blocking form, as a worker thread (or a script without asyncio) calls it.
    for _ in range(texts // 10 + 1):
        a.process_text_blocking(sentence)
    each = []
    for _ in range(texts):
        t0 = time.perf_counter_ns()
        a.process_text_blocking(sentence)
        each.append(time.perf_counter_ns() - t0)
    blocking = (sum(each) / texts, sorted(each)[texts // 2])
    parts = generated_parts(a.process_text_blocking(sentence), sentence, trivial // 10)
    await a.stop()
    return trivial_ns, start_ns, text_ns, median_ns, blocking, parts


def generated_parts(turn, sentence, n):
    """What uniffi's generated code does around the Rust call of processTextBlocking
    besides what a trivial call does (clone the object's handle, call), each timed alone:
    lowering the sentence into a Rust buffer (two FFI calls; freed here with a third,
    as Rust frees it in a real call) and reading the returned Turn record out of its
    buffer (interpreted, field by field; the buffer is read in place, not freed)."""
    conv = emma._UniffiFfiConverterTypeTurn
    t0 = time.perf_counter_ns()
    for _ in range(n):
        emma._UniffiFfiConverterString.lower(sentence).free()
    lower_ns = (time.perf_counter_ns() - t0) / n
    buf = conv.lower(turn)
    try:
        t0 = time.perf_counter_ns()
        for _ in range(n):
            with buf.read_with_stream() as stream:
                read = conv.read(stream)
        read_ns = (time.perf_counter_ns() - t0) / n
    finally:
        buf.free()
    assert read == turn, (read, turn)
    return lower_ns, read_ns


trivial_ns, start_ns, text_ns, median_ns, (blocking_ns, blocking_median_ns), (lower_ns, read_ns) = asyncio.run(main())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
print(
    f"trivial_ns={trivial_ns} start_again_ns={start_ns} process_text_ns={text_ns} process_text_median_ns={median_ns} "
    f"blocking_ns={blocking_ns} blocking_median_ns={blocking_median_ns} "
    f"generated_lower_ns={lower_ns} generated_read_ns={read_ns} peak_rss_kib={peak}"
)
