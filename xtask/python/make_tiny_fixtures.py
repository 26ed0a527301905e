#!/usr/bin/env python3
"""Tiny stand-in models, tokenizer and images for smoke-testing the benchmark scripts.

Usage:  python3 xtask/python/make_tiny_fixtures.py OUT_DIR [--images 96]

Writes (all deterministic, seconds to make, no download):
  OUT_DIR/image/model.onnx   input `input` float32 [N,3,224,224] -> `features` [N,8]
                             (Conv 3->8 k3 s4, Relu, GlobalAveragePool, Flatten)
  OUT_DIR/text/model.onnx    int64 `input_ids`, `attention_mask`, `token_type_ids` [N,S]
                             -> `last_hidden_state` float32 [N,S,32]
                             (word + token-type embeddings, zeroed where mask == 0)
  OUT_DIR/text/tokenizer.json  BERT-style uncased WordPiece; its vocabulary holds every
                             ASCII letter and digit as a word start and as a "##" piece,
                             so any English text tokenises with few [UNK]s
  OUT_DIR/images/img_NNN.{jpg,png}  random smooth pictures of assorted sizes

The numbers these give say nothing about real models: they only prove the scripts run
end to end (same input/output names and dtypes as the exported backbones).
Needs numpy, onnx, Pillow and tokenizers (see requirements-bench.txt).
"""
import argparse
import pathlib
import string

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image
from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece

OPSET = 14
# onnx >= 1.20 writes IR version 14 by default, newer than onnxruntime 1.31 reads (13);
# IR 8 is the one that goes with opset 14.
IR_VERSION = 8
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
HIDDEN = 32


def save(model, path):
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def image_model(path, rng):
    w = numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "conv_w")
    b = numpy_helper.from_array(np.zeros(8, np.float32), "conv_b")
    nodes = [
        helper.make_node("Conv", ["input", "conv_w", "conv_b"], ["c"], strides=[4, 4]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["features"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny_image",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 8])],
        [w, b])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                           ir_version=IR_VERSION), path)


def vocab():
    chars = string.ascii_lowercase + string.digits
    words = ["the", "and", "of", "to", "in", "is", "it", "that", "for", "on", "with", "as",
             "was", "this", "movie", "film", "news", "good", "bad"]
    toks = SPECIALS + list(chars) + ["##" + c for c in chars] + words
    return {t: i for i, t in enumerate(toks)}


def tokenizer(path):
    v = vocab()
    tok = Tokenizer(WordPiece(v, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", v["[CLS]"]), ("[SEP]", v["[SEP]"])])
    tok.decoder = decoders.WordPiece()
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))
    return len(v)


def text_model(path, vocab_size, rng):
    emb = rng.standard_normal((vocab_size, HIDDEN)).astype(np.float32)
    typ = rng.standard_normal((2, HIDDEN)).astype(np.float32)
    inits = [numpy_helper.from_array(emb, "word_emb"), numpy_helper.from_array(typ, "type_emb"),
             numpy_helper.from_array(np.array([2], np.int64), "axis2")]
    nodes = [
        helper.make_node("Gather", ["word_emb", "input_ids"], ["we"], axis=0),
        helper.make_node("Gather", ["type_emb", "token_type_ids"], ["te"], axis=0),
        helper.make_node("Add", ["we", "te"], ["h"]),
        helper.make_node("Cast", ["attention_mask"], ["mf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mf", "axis2"], ["m3"]),
        helper.make_node("Mul", ["h", "m3"], ["last_hidden_state"]),
    ]
    ins = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"])
           for n in ("input_ids", "attention_mask", "token_type_ids")]
    out = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                        ["batch", "seq", HIDDEN])
    graph = helper.make_graph(nodes, "tiny_text", ins, [out], inits)
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                           ir_version=IR_VERSION), path)


def images(folder, n, rng):
    folder.mkdir(parents=True, exist_ok=True)
    sizes = [(320, 240), (500, 375), (224, 224), (640, 480), (300, 500)]
    for i in range(n):
        w, h = sizes[i % len(sizes)]
        # Smooth colour blobs plus mild noise: compresses about like a photo, so
        # decoding costs about what it costs for real pictures of that size.
        coarse = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
        base = np.asarray(Image.fromarray(coarse, "RGB").resize((w, h), Image.Resampling.BICUBIC),
                          dtype=np.int16)
        noise = rng.integers(-12, 13, (h, w, 3), dtype=np.int16)
        im = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")
        if i % 4 == 3:
            im.save(folder / f"img_{i:03d}.png")
        else:
            im.save(folder / f"img_{i:03d}.jpg", quality=90)


def main():
    ap = argparse.ArgumentParser(description="tiny fixtures for the benchmark scripts")
    ap.add_argument("out_dir", type=pathlib.Path)
    ap.add_argument("--images", type=int, default=96, help="how many images to write")
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    image_model(args.out_dir / "image" / "model.onnx", rng)
    n_vocab = tokenizer(args.out_dir / "text" / "tokenizer.json")
    text_model(args.out_dir / "text" / "model.onnx", n_vocab, rng)
    images(args.out_dir / "images", args.images, rng)
    print(f"wrote {args.out_dir}/image/model.onnx, {args.out_dir}/text/model.onnx, "
          f"{args.out_dir}/text/tokenizer.json and {args.images} images in {args.out_dir}/images")


if __name__ == "__main__":
    main()
