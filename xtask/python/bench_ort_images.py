#!/usr/bin/env python3
"""Reference throughput of an ONNX image backbone under Python onnxruntime.

Usage:
    python3 xtask/python/bench_ort_images.py --model M.onnx --images DIR \
        [--batch 32] [--threads 2] [--mode both|bare|pillow] [--limit N]

Two measurements over the same number of images N (every image file found under DIR,
recursively, sorted by path; --limit keeps the first N):

  bare    onnxruntime `run` on float32 tensors [batch,3,224,224] filled with random
          numbers before the clock starts: ceil(N/batch) runs, the last one partial.
          This is the ceiling any pipeline can reach with these session settings.
  pillow  the whole Python pipeline, per batch: open each file with Pillow, convert to
          RGB, resize to 224x224 (bilinear), scale to [0,1], normalise with ImageNet
          mean/std, lay out as CHW, stack, run. Decode+preprocess and inference time
          are reported separately as well as end to end.

Session: CPUExecutionProvider (see --providers), intra_op_num_threads=--threads,
inter_op_num_threads=1, sequential execution, default graph optimisation (all).
Before each measurement one batch is run untimed (warm-up); session creation is
reported separately and is not part of any rate.

Prints ONE JSON line with the results.
"""
import argparse
import json
import math
import os
import pathlib
import platform
import sys
import time

import numpy as np
import onnxruntime as ort
import PIL
from PIL import Image

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def die(msg):
    print(f"bench_ort_images.py: error: {msg}", file=sys.stderr)
    sys.exit(1)


def find_images(root, limit):
    files = sorted(p for p in pathlib.Path(root).rglob("*")
                   if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
    if limit:
        files = files[:limit]
    if not files:
        die(f"no image files ({', '.join(sorted(IMAGE_EXTS))}) under {root}")
    return files


def make_session(model, threads, providers):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    t0 = time.perf_counter()
    sess = ort.InferenceSession(str(model), sess_options=so, providers=providers)
    return sess, time.perf_counter() - t0


def load_image(path, size, out):
    """Decode `path` and write the normalised CHW float32 tensor into `out` [3,size,size]."""
    with Image.open(path) as im:
        im = im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
        hwc = np.asarray(im, dtype=np.float32)
    hwc *= 1.0 / 255.0
    hwc -= IMAGENET_MEAN
    hwc /= IMAGENET_STD
    out[...] = hwc.transpose(2, 0, 1)


def bench_bare(sess, n_images, batch, size, input_name, output_name, seed):
    rng = np.random.default_rng(seed)
    n_batches = math.ceil(n_images / batch)
    sizes = [min(batch, n_images - i * batch) for i in range(n_batches)]
    # Pre-built inputs: one full batch, and a separate partial last batch if needed.
    full = rng.standard_normal((batch, 3, size, size), dtype=np.float32)
    tensors = [full if s == batch else full[:s].copy() for s in sizes]
    sess.run([output_name], {input_name: full})  # warm-up
    t0 = time.perf_counter()
    for x in tensors:
        out = sess.run([output_name], {input_name: x})[0]
    dt = time.perf_counter() - t0
    return {"seconds": round(dt, 4), "images_per_s": round(n_images / dt, 2),
            "batches": n_batches, "output_shape_last": list(out.shape)}


def bench_pillow(sess, files, batch, size, input_name, output_name):
    buf = np.empty((batch, 3, size, size), dtype=np.float32)
    # Warm-up on the first batch (also warms the OS file cache for those files).
    for j, p in enumerate(files[:batch]):
        load_image(p, size, buf[j])
    sess.run([output_name], {input_name: buf[: min(batch, len(files))]})

    t_pre = t_inf = 0.0
    t0 = time.perf_counter()
    for start in range(0, len(files), batch):
        chunk = files[start:start + batch]
        ta = time.perf_counter()
        for j, p in enumerate(chunk):
            load_image(p, size, buf[j])
        tb = time.perf_counter()
        out = sess.run([output_name], {input_name: buf[: len(chunk)]})[0]
        tc = time.perf_counter()
        t_pre += tb - ta
        t_inf += tc - tb
    dt = time.perf_counter() - t0
    return {"seconds": round(dt, 4), "images_per_s": round(len(files) / dt, 2),
            "preprocess_seconds": round(t_pre, 4), "inference_seconds": round(t_inf, 4),
            "output_shape_last": list(out.shape)}


def main():
    ap = argparse.ArgumentParser(description="onnxruntime image backbone throughput")
    ap.add_argument("--model", required=True, type=pathlib.Path)
    ap.add_argument("--images", required=True, type=pathlib.Path, help="folder of images")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads")
    ap.add_argument("--mode", choices=["both", "bare", "pillow"], default="both")
    ap.add_argument("--limit", type=int, default=0, help="use the first N images only")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--input-name", default="input")
    ap.add_argument("--output-name", default="features")
    ap.add_argument("--providers", default="CPUExecutionProvider",
                    help="comma-separated onnxruntime execution providers")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random bare tensors")
    args = ap.parse_args()

    if args.batch < 1 or args.threads < 1:
        die("--batch and --threads must be >= 1")
    if not args.model.is_file():
        die(f"{args.model}: no such file")
    files = find_images(args.images, args.limit)
    sess, load_s = make_session(args.model, args.threads, args.providers.split(","))
    inputs = [i.name for i in sess.get_inputs()]
    outputs = [o.name for o in sess.get_outputs()]
    if args.input_name not in inputs:
        die(f"model has no input {args.input_name!r} (inputs: {inputs})")
    if args.output_name not in outputs:
        die(f"model has no output {args.output_name!r} (outputs: {outputs})")

    result = {
        "bench": "ort_images",
        "model": str(args.model),
        "images": len(files),
        "batch": args.batch,
        "threads": args.threads,
        "size": args.size,
        "providers": sess.get_providers(),
        "session_load_seconds": round(load_s, 4),
    }
    if args.mode in ("both", "bare"):
        result["bare"] = bench_bare(sess, len(files), args.batch, args.size,
                                    args.input_name, args.output_name, args.seed)
    if args.mode in ("both", "pillow"):
        result["pillow"] = bench_pillow(sess, files, args.batch, args.size,
                                        args.input_name, args.output_name)
    result["versions"] = {"python": platform.python_version(), "onnxruntime": ort.__version__,
                          "numpy": np.__version__, "pillow": PIL.__version__}
    result["cpu_count"] = os.cpu_count()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
