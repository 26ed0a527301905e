#!/usr/bin/env python3
"""Reference throughput of an ONNX text encoder under Python onnxruntime + HF tokenizers.

Usage:
    python3 xtask/python/bench_ort_text.py --model M.onnx --tokenizer tokenizer.json \
        --texts FILE.jsonl [--batch 32] [--threads 2] [--max-length 256] [--limit N]

FILE.jsonl holds one JSON object per line with the text under --text-field ("text"),
e.g. the train.jsonl/test.jsonl written by prepare_text.py.

Texts are taken in file order, in batches of --batch. Each batch is tokenised with the
`tokenizers` library (truncation at --max-length, padded to the longest member of the
batch), then run through onnxruntime with int64 input_ids / attention_mask /
token_type_ids (only those the model declares) and output --output-name
("last_hidden_state"). One batch is run untimed first (warm-up).

Reported: texts/s and real (non-pad, i.e. attention_mask == 1) tokens/s end to end,
plus tokenisation and inference seconds separately, and the padded token count.
Session: CPUExecutionProvider (see --providers), intra_op_num_threads=--threads,
inter_op_num_threads=1, sequential execution. The tokenizer's own thread pool (rayon,
used by encode_batch) is limited to --threads via RAYON_NUM_THREADS unless that
variable is already set.

Prints ONE JSON line with the results.
"""
import argparse
import json
import os
import pathlib
import platform
import sys
import time

import numpy as np
import onnxruntime as ort
import tokenizers
from tokenizers import Tokenizer

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def die(msg):
    print(f"bench_ort_text.py: error: {msg}", file=sys.stderr)
    sys.exit(1)


def read_texts(path, field, limit):
    texts = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                texts.append(json.loads(line)[field])
            except (ValueError, KeyError) as e:
                die(f"{path}:{n}: cannot read field {field!r}: {e}")
            if limit and len(texts) == limit:
                break
    if not texts:
        die(f"{path}: no texts")
    return texts


def make_tokenizer(path, max_length):
    tok = Tokenizer.from_file(str(path))
    tok.enable_truncation(max_length=max_length)
    # Keep the pad token of the file's padding config if it has one, else use [PAD]/<pad>.
    pad = tok.padding
    pad_type_id = 0
    if pad is not None:
        pad_id, pad_token, pad_type_id = pad["pad_id"], pad["pad_token"], pad["pad_type_id"]
    else:
        pad_token = next((t for t in ("[PAD]", "<pad>") if tok.token_to_id(t) is not None), None)
        if pad_token is None:
            die(f"{path}: no padding config and no [PAD]/<pad> token")
        pad_id = tok.token_to_id(pad_token)
    # No `length`: pad each batch to its longest member.
    tok.enable_padding(pad_id=pad_id, pad_type_id=pad_type_id, pad_token=pad_token)
    return tok


def make_session(model, threads, providers):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    t0 = time.perf_counter()
    sess = ort.InferenceSession(str(model), sess_options=so, providers=providers)
    return sess, time.perf_counter() - t0


def encode(tok, texts, wanted):
    encs = tok.encode_batch(texts)
    feeds = {"input_ids": np.array([e.ids for e in encs], dtype=np.int64),
             "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64)}
    if "token_type_ids" in wanted:
        feeds["token_type_ids"] = np.array([e.type_ids for e in encs], dtype=np.int64)
    return {k: v for k, v in feeds.items() if k in wanted}, feeds["attention_mask"]


def parse_args():
    ap = argparse.ArgumentParser(description="onnxruntime text encoder throughput")
    ap.add_argument("--model", required=True, type=pathlib.Path)
    ap.add_argument("--tokenizer", required=True, type=pathlib.Path, help="tokenizer.json")
    ap.add_argument("--texts", required=True, type=pathlib.Path, help="JSONL file")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads")
    ap.add_argument("--max-length", type=int, default=256, help="truncation, in tokens")
    ap.add_argument("--limit", type=int, default=0, help="use the first N texts only")
    ap.add_argument("--text-field", default="text")
    ap.add_argument("--output-name", default="last_hidden_state")
    ap.add_argument("--providers", default="CPUExecutionProvider",
                    help="comma-separated onnxruntime execution providers")
    return ap.parse_args()


def main():
    args = parse_args()
    # rayon (behind encode_batch) builds its pool on first use, so this still applies.
    os.environ.setdefault("RAYON_NUM_THREADS", str(args.threads))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    if args.batch < 1 or args.threads < 1 or args.max_length < 1:
        die("--batch, --threads and --max-length must be >= 1")
    for p in (args.model, args.tokenizer, args.texts):
        if not p.is_file():
            die(f"{p}: no such file")
    texts = read_texts(args.texts, args.text_field, args.limit)
    tok = make_tokenizer(args.tokenizer, args.max_length)
    sess, load_s = make_session(args.model, args.threads, args.providers.split(","))
    declared = {i.name for i in sess.get_inputs()}
    wanted = [n for n in MODEL_INPUTS if n in declared]
    unknown = declared - set(MODEL_INPUTS)
    if unknown or "input_ids" not in declared:
        die(f"model inputs {sorted(declared)} are not a subset of {MODEL_INPUTS} with input_ids")
    if args.output_name not in {o.name for o in sess.get_outputs()}:
        die(f"model has no output {args.output_name!r}")

    batches = [texts[i:i + args.batch] for i in range(0, len(texts), args.batch)]
    feeds, _ = encode(tok, batches[0], wanted)  # warm-up
    sess.run([args.output_name], feeds)

    t_tok = t_inf = 0.0
    real_tokens = padded_tokens = 0
    max_seq = 0
    t0 = time.perf_counter()
    for chunk in batches:
        ta = time.perf_counter()
        feeds, mask = encode(tok, chunk, wanted)
        tb = time.perf_counter()
        out = sess.run([args.output_name], feeds)[0]
        tc = time.perf_counter()
        t_tok += tb - ta
        t_inf += tc - tb
        real_tokens += int(mask.sum())
        padded_tokens += mask.size
        max_seq = max(max_seq, mask.shape[1])
    dt = time.perf_counter() - t0

    print(json.dumps({
        "bench": "ort_text",
        "model": str(args.model),
        "texts": len(texts),
        "batch": args.batch,
        "threads": args.threads,
        "max_length": args.max_length,
        "providers": sess.get_providers(),
        "session_load_seconds": round(load_s, 4),
        "seconds": round(dt, 4),
        "texts_per_s": round(len(texts) / dt, 2),
        "real_tokens": real_tokens,
        "padded_tokens": padded_tokens,
        "real_tokens_per_s": round(real_tokens / dt, 1),
        "tokenize_seconds": round(t_tok, 4),
        "inference_seconds": round(t_inf, 4),
        "max_seq_len": max_seq,
        "output_shape_last": list(out.shape),
        "rayon_num_threads": os.environ.get("RAYON_NUM_THREADS"),
        "versions": {"python": platform.python_version(), "onnxruntime": ort.__version__,
                     "numpy": np.__version__, "tokenizers": tokenizers.__version__},
        "cpu_count": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
