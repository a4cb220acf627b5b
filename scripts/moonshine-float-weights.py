#!/usr/bin/env python3
"""Stores Moonshine's weights as floats, once, so that no decoder step unpacks them again.

Usage: moonshine-float-weights.py MODEL_DIR

The moonshine-cpp wheel ships Moonshine as ONNX Runtime (`.ort`) models whose weight
matrices are stored as 8-bit integers and turned back into floats by three nodes each
(Cast, Mul by the scale, Add the offset) at the start of every run: 81 matrices in the
decoder, the 32,768 x 416 token embedding among them. ONNX Runtime does not fold them
for a model in its own format, so every decoder step (one per token written) unpacked
all 41 million weights again: about 30 ms of a 35 ms step on this project's 2-core
machine, profiled with ONNX Runtime's own profiler (docs/understand.md).

This script writes `encoder_model.onnx` and `decoder_model_merged.onnx` beside the
`.ort` files: the same graphs (exported by ONNX Runtime itself), with each such chain
computed once here, in the same float32 operations in the same order as the `.ort`
model computes them on every run. Emma loads the `.onnx`
pair when both are there (`emma_speech::moonshine`). Before writing, both forms are run
on the same input and must agree; the files are written to a temporary name and
renamed, so an interrupted run leaves the `.ort` model in use.

Needs onnxruntime (the version of the wheel's library), onnx and numpy; `scripts/setup`
runs it in a venv of its own.
"""

import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

MODELS = ("encoder_model", "decoder_model_merged")
# Nodes computed here when every input is a weight (or computed from weights).
FOLDED = ("Cast", "Mul", "Add")


def export(ort_path: str, onnx_path: str) -> None:
    """The `.ort` model's graph as ONNX, as ONNX Runtime loaded it (no optimisation)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.optimized_model_filepath = onnx_path
    options.add_session_config_entry("session.save_model_format", "ONNX")
    options.log_severity_level = 3
    ort.InferenceSession(ort_path, options, providers=["CPUExecutionProvider"])


def fold(model: onnx.ModelProto) -> int:
    """Replaces every Cast/Mul/Add of the main graph whose inputs are weights by
    its result, as a float32 weight; returns how many nodes were folded."""
    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    values: dict = {}

    def value(name):
        if name not in values:
            values[name] = numpy_helper.to_array(weights[name])
        return values[name]

    folded = {}
    kept = []
    for node in graph.node:
        inputs = [i for i in node.input if i]
        if node.op_type in FOLDED and inputs and all(i in weights or i in folded for i in inputs):
            args = [folded[i] if i in folded else value(i) for i in inputs]
            if node.op_type == "Cast":
                to = next(a.i for a in node.attribute if a.name == "to")
                out = args[0].astype(onnx.helper.tensor_dtype_to_np_dtype(to))
            elif node.op_type == "Mul":
                out = np.multiply(args[0], args[1], dtype=np.result_type(*args))
            else:
                out = np.add(args[0], args[1], dtype=np.result_type(*args))
            folded[node.output[0]] = np.ascontiguousarray(out)
        else:
            kept.append(node)
    used = set()

    def uses(g):
        for n in g.node:
            used.update(n.input)
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    uses(a.g)
                for sub in a.graphs:
                    uses(sub)
        used.update(o.name for o in g.output)

    del graph.node[:]
    graph.node.extend(kept)
    uses(graph)
    initializers = [i for i in graph.initializer if i.name in used]
    initializers += [numpy_helper.from_array(v, k) for k, v in folded.items() if k in used]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    # ONNX requires named graphs; ONNX Runtime's export leaves If branches unnamed.
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH and not a.g.name:
                a.g.name = f"{node.name}_{a.name}"
    return len(folded)


def session(path: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def feeds(s: ort.InferenceSession, hidden=None) -> dict:
    """A first decoder step (`<s>`, no caches) or one second of quiet noise for the encoder."""
    rng = np.random.default_rng(7)
    out = {}
    for i in s.get_inputs():
        if i.name == "input_values":
            out[i.name] = (rng.standard_normal((1, 16000)) * 0.05).astype(np.float32)
        elif i.name == "input_ids":
            out[i.name] = np.array([[1]], dtype=np.int64)
        elif i.name == "use_cache_branch":
            out[i.name] = np.array([False])
        elif i.name == "encoder_hidden_states":
            out[i.name] = hidden
        else:  # past_key_values.*: [batch, heads, 0, width]
            dims = [d if isinstance(d, int) else 1 for d in i.shape]
            dims[2] = 0
            out[i.name] = np.zeros(dims, dtype=np.float32)
    return out


def same(a: ort.InferenceSession, b: ort.InferenceSession, inputs: dict, what: str) -> None:
    x, y = a.run(None, inputs)[0], b.run(None, inputs)[0]
    worst = float(np.max(np.abs(x - y)))
    scale = float(np.max(np.abs(x)))
    if x.shape != y.shape or worst > 1e-3 * max(scale, 1.0):
        sys.exit(f"{what}: the float model differs from the 8-bit one by {worst} (of {scale}); not written")


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    directory = sys.argv[1]
    written = {}
    for name in MODELS:
        source = os.path.join(directory, name + ".ort")
        raw = os.path.join(directory, name + ".exported.tmp")
        export(source, raw)
        model = onnx.load(raw)
        os.remove(raw)
        n = fold(model)
        tmp = os.path.join(directory, name + ".onnx.tmp")
        onnx.save(model, tmp)
        written[name] = (source, tmp, n)
    try:
        encoder = (session(written["encoder_model"][0]), session(written["encoder_model"][1]))
        inputs = feeds(encoder[0])
        same(*encoder, inputs, "encoder")
        hidden = encoder[0].run(None, inputs)[0]
        decoder = (session(written["decoder_model_merged"][0]), session(written["decoder_model_merged"][1]))
        same(*decoder, feeds(decoder[0], hidden), "decoder")
    except BaseException:
        for _, tmp, _ in written.values():
            os.remove(tmp)
        raise
    for name, (_, tmp, n) in written.items():
        os.replace(tmp, os.path.join(directory, name + ".onnx"))
        size = os.path.getsize(os.path.join(directory, name + ".onnx")) >> 20
        print(f"{name}.onnx: {n} weight nodes folded, {size} MiB", file=sys.stderr)


if __name__ == "__main__":
    main()
