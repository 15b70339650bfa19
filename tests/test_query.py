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


def test_and_makes_both_sides_required_or_keeps_them_optional():
    occurs = [c.occur for c in parse_query("a AND b OR c").clauses]
    assert occurs == [MUST, MUST, SHOULD]


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
