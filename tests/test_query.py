from jiansuo.retrieve.query import MUST, MUST_NOT, SHOULD, category_expression, parse_query, plain_query


def test_syntax_pieces():
    parsed = parse_query('扩散模型 "条件 控制" -GAN title:CoSENT author:"苏剑林" tag:检索')
    got = [(c.text, c.occur, c.field, c.phrase) for c in parsed.clauses]
    assert got == [
        ("扩散模型", SHOULD, None, False),
        ("条件 控制", MUST, None, True),
        ("GAN", MUST_NOT, None, False),
        ("CoSENT", MUST, "title", False),
        ("苏剑林", MUST, "authors", True),
        ("检索", MUST, "tags", False),
    ]


def test_and_makes_both_sides_required():
    assert [c.occur for c in parse_query("a AND b c").clauses] == [MUST, MUST, SHOULD]


def test_or_binds_the_clauses_on_its_two_sides_into_one_required_group():
    clauses = parse_query('"扩散模型" OR "优化器" OR title:Lion rest -x').clauses
    group = clauses[0]
    assert group.occur == MUST and [(m.text, m.occur, m.phrase, m.field) for m in group.any_of] == [
        ("扩散模型", SHOULD, True, None), ("优化器", SHOULD, True, None), ("Lion", SHOULD, False, "title")]
    assert [(c.text, c.occur) for c in clauses[1:]] == [("rest", SHOULD), ("x", MUST_NOT)]
    assert [c.occur for c in parse_query("a AND b OR c").clauses] == [MUST, MUST]  # b OR c, required


def test_unknown_field_and_broken_quotes_degrade_to_text():
    parsed = parse_query('foo:bar "unclosed')
    assert [(c.text, c.field) for c in parsed.clauses] == [("foo:bar", None), ("unclosed", None)]


def test_plain_query_ignores_syntax():
    assert [c.text for c in plain_query('-a "b" title:c').clauses] == ['-a "b" title:c']


def test_category_union_and_difference():
    assert category_expression("cs.AI+cs.LG-cs.CY") == (["cs.AI", "cs.LG"], ["cs.CY"])
    assert category_expression("-cs.CY") == ([], ["cs.CY"])
    known = {"hep-ph", "astro-ph", "hep-th"}
    assert category_expression("hep-ph+astro-ph-hep-th", known) == (["hep-ph", "astro-ph"], ["hep-th"])


def test_category_names_with_spaces_need_the_known_names():
    known = {"Physical sciences", "Biology", "cs.AI"}
    assert category_expression("Physical sciences", known) == (["Physical sciences"], [])
    assert category_expression("Physical sciences Biology-cs.AI", known) == (["Physical sciences", "Biology"],
                                                                             ["cs.AI"])
    assert category_expression("cs.AI cs.LG") == (["cs.AI", "cs.LG"], [])  # a URL's "+" arrives as a space


def test_identifiers_a_paper_holds_and_the_one_a_query_names():
    from jiansuo.analysis.identifiers import canonical, identifiers
    from jiansuo.model import Document

    paper = Document(id="0704.0001", url="https://arxiv.org/abs/0704.0001v2",
                     metadata={"doi": "10.1103/PhysRevD.76.013009", "eprint": "hep-ph/0701001"})
    assert identifiers(paper) == {"0704.0001", "10.1103/physrevd.76.013009", "hep-ph/0701001"}
    named = {query: canonical(query) for query in (
        "arXiv:0704.0001v3", "https://arxiv.org/pdf/0704.0001.pdf", "hep-ph/0701001v2", "math.AG/0601001",
        "doi:10.1103/PhysRevD.76.013009", "https://dx.doi.org/10.1103/PhysRevD.76.013009",
        "archives/1234567", "3.14159", "attention is all you need", "0704.0001 gluons")}
    assert named == {
        "arXiv:0704.0001v3": "0704.0001", "https://arxiv.org/pdf/0704.0001.pdf": "0704.0001",
        "hep-ph/0701001v2": "hep-ph/0701001", "math.AG/0601001": "math.ag/0601001",
        "doi:10.1103/PhysRevD.76.013009": "10.1103/physrevd.76.013009",
        "https://dx.doi.org/10.1103/PhysRevD.76.013009": "10.1103/physrevd.76.013009",
        "archives/1234567": "", "3.14159": "", "attention is all you need": "", "0704.0001 gluons": ""}
