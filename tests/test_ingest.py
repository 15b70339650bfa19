from datetime import date

from jiansuo.ingest import IngestProblem, read_path
from jiansuo.ingest.fields import parse_date, parse_field_map


def split(items):
    docs = [i for i in items if not isinstance(i, IngestProblem)]
    problems = [i for i in items if isinstance(i, IngestProblem)]
    return docs, problems


def test_jsonl_bad_lines_are_reported_with_line_numbers_and_neighbours_kept(fixtures):
    docs, problems = split(list(read_path(fixtures / "posts.jsonl")))
    assert [d.id for d in docs] == ["p1", "p2", "p3", "p4", "p5"]
    skipped = {p.line: p.reason for p in problems if p.skipped}
    assert set(skipped) == {4, 5}
    assert "invalid JSON" in skipped[4] and "no document id" in skipped[5]
    assert str(problems[0]).startswith(f"{fixtures / 'posts.jsonl'}:4: ")
    # a bad date is a warning: the document is still indexed, without a date
    warning = next(p for p in problems if not p.skipped)
    assert warning.line == 7 and "date" in warning.reason
    p5 = docs[-1]
    assert p5.date is None and p5.authors == ["Miloš Radovanović"] and p5.venue == "JMLR"


def test_jsonl_fields(fixtures):
    docs, _ = split(list(read_path(fixtures / "posts.jsonl")))
    p1 = docs[0]
    assert p1.authors == ["苏剑林"] and p1.date == date(2022, 8, 30) and p1.reads == 52338
    assert p1.categories == ["cs.LG", "cs.AI"] and p1.language == "zh"
    assert docs[3].authors == ["Yilun Xu", "Ziming Liu"] and docs[3].language == "en"


def test_field_mapping(tmp_path):
    path = tmp_path / "custom.jsonl"
    path.write_text('{"key": "k1", "name": "标题", "content": "正文"}\n', encoding="utf-8")
    docs, problems = split(list(read_path(path, field_map=parse_field_map(["id=key", "title=name", "body=content"]))))
    assert not problems and (docs[0].id, docs[0].title, docs[0].body) == ("k1", "标题", "正文")


def test_beir_corpus(fixtures):
    docs, problems = split(list(read_path(fixtures / "beir_corpus.jsonl")))
    assert not problems and len(docs) == 3
    assert docs[0].id == "4983" and docs[0].title.startswith("Microstructural") and docs[0].summary


def test_arxiv_snapshot(fixtures):
    docs, problems = split(list(read_path(fixtures / "arxiv_snapshot.jsonl")))
    assert not problems
    first = docs[0]
    assert first.id == "0704.0001"
    assert first.date == date(2007, 4, 2)  # versions[0].created, not update_date
    assert first.categories == ["hep-ph"] and first.venue == "Phys.Rev.D"
    assert first.metadata["journal-ref"] == "Phys.Rev.D76:013009,2007"
    assert first.authors[:2] == ["C. Balázs", "E. L. Berger"]  # TeX accents as characters
    assert "\n" not in first.title and first.url == "https://arxiv.org/abs/0704.0001"
    assert first.metadata["doi"] == "10.1103/PhysRevD.76.013009"


def test_markdown_blog_folder(fixtures):
    docs, problems = split(list(read_path(fixtures / "blog")))
    by_id = {d.id: d for d in docs}
    rope = by_id["2023-01-05-attention"]
    assert rope.title == "Transformer升级之路：旋转位置编码" and rope.date == date(2023, 1, 5)
    assert rope.tags == ["位置编码", "transformer"] and rope.reads == 41200
    assert r"\mathcal{R}_m" in rope.body
    assert by_id["no-front-matter"].title == "Notes on BM25 saturation"
    assert [p.file.endswith("broken-front-matter.md") for p in problems] == [True]


def test_dates():
    assert parse_date("2022-11") == date(2022, 11, 1)
    assert parse_date("Mon, 2 Apr 2007 19:18:42 GMT") == date(2007, 4, 2)
    assert parse_date("2022/11/09 10:00") == date(2022, 11, 9)
    assert parse_date("yesterday") is None


def test_missing_file_is_a_problem_not_a_crash(tmp_path):
    _, problems = split(list(read_path(tmp_path / "nope.jsonl")))
    assert problems[0].reason == "no such file or folder"


def test_a_year_is_a_year_not_seconds_after_1970_and_partial_dates_keep_their_precision():
    from jiansuo.ingest.fields import document_from_record

    assert parse_date(2019) == date(2019, 1, 1) and parse_date(1700000000).year == 2023
    shown = {}
    for value in (2019, "2019", "2019-11", "2019-11-05", "2019-11-05T10:00:00Z"):
        document, _ = document_from_record({"id": "x", "date": value})
        shown[value] = document.date_label()
    assert shown == {2019: "2019", "2019": "2019", "2019-11": "2019-11", "2019-11-05": "2019-11-05",
                     "2019-11-05T10:00:00Z": "2019-11-05"}
    document, _ = document_from_record({"id": "y", "year": "2021"})  # a paper list's year column
    assert document.date == date(2021, 1, 1) and document.date_label() == "2021"
