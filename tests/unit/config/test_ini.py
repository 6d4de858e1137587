"""The Asterisk dialect reader: every syntax feature, each error with its file:line."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.config.ini import BlockComment, ConfigReader, strip_comments
from switchboard.diagnostics import Diagnostics, Location
from tests.unit.config.conftest import DictSource, lines


def read(files: dict[str, str | bytes], name: str = "a.conf", max_bytes: int = 1 << 20):
    diags = Diagnostics()
    conf = ConfigReader(DictSource(files), diags, max_bytes).read(name)
    return conf, diags


def pairs(section) -> list[tuple[str, str]]:
    return [(i.key, i.value) for i in section.items]


def test_sections_options_and_locations():
    conf, diags = read({"a.conf": "[one]\nkey=value\nother => x, y\n\n[two]\n  spaced   =  v  \n"})
    assert not diags.items
    one, two = conf.sections
    assert (one.name, two.name) == ("one", "two")
    assert pairs(one) == [("key", "value"), ("other", "x, y")]
    assert pairs(two) == [("spaced", "v")]
    assert one.location == Location("a.conf", 1)
    assert [str(i.location) for i in one.items] == ["a.conf:2", "a.conf:3"]
    assert str(two.items[0].location) == "a.conf:6"


def test_same_name_many_times_and_last_value_wins():
    conf, _ = read({"a.conf": "[alice]\ntype=endpoint\n[alice]\ntype=auth\nx=1\nx=2\n"})
    assert [s.value("type") for s in conf.named("alice")] == ["endpoint", "auth"]
    assert conf.sections[1].value("x") == "2"
    assert conf.sections[1].value("missing", "dflt") == "dflt"


def test_templates_and_inheritance_in_order():
    text = "[t1](!)\na=1\nb=1\n[t2](!,t1)\nb=2\n[obj](t2,t1)\nc=3\nb=own\n"
    conf, diags = read({"a.conf": text})
    assert not diags.items
    t1, t2, obj = conf.sections
    assert t1.template and t2.template and not obj.template
    assert obj.inherits == ("t2", "t1")
    assert pairs(obj) == [
        ("a", "1"),
        ("b", "1"),
        ("b", "2"),
        ("a", "1"),
        ("b", "1"),
        ("c", "3"),
        ("b", "own"),
    ]
    assert obj.value("b") == "own"
    assert str(obj.items[0].location) == "a.conf:2"


def test_inheriting_an_unknown_template_is_an_error_with_suggestion():
    conf, diags = read({"a.conf": "[endpoint_internal](!)\nx=1\n[alice](endpoint_internl)\n"})
    assert lines(diags) == [
        "a.conf:3: error: section [alice] inherits from 'endpoint_internl', which is not "
        "defined above (did you mean 'endpoint_internal'?)"
    ]
    assert conf.sections[-1].name == "alice"


def test_plus_adds_to_the_first_section_of_that_name_or_the_one_matching():
    text = "[s]\ntype=a\n[s]\ntype=b\n[s](+)\nc=1\n[s](+type=b)\nd=1\n"
    conf, diags = read({"a.conf": text})
    assert not diags.items
    assert len(conf.sections) == 2
    assert pairs(conf.sections[0]) == [("type", "a"), ("c", "1")]
    assert pairs(conf.sections[1]) == [("type", "b"), ("d", "1")]


def test_plus_equals_appends_to_the_value_above():
    conf, diags = read({"a.conf": "[s]\nx=ab\nx += cd\ny+=new\n"})
    assert not diags.items
    assert conf.sections[0].value("x") == "abcd"
    assert conf.sections[0].value("y") == "new"


def test_plus_without_section_is_an_error():
    _, diags = read({"a.conf": "[s](+)\nc=1\n"})
    assert lines(diags)[0].startswith("a.conf:1: error: [s](+) adds to section 's'")
    assert "a.conf:2: error: option 'c' is outside any section" in lines(diags)[1]


def test_comments_escapes_and_leading_blank_comment_lines():
    text = (
        "; a comment\n[general]\nformat=wav49|gsm ; trailing\n"
        "                       ; Max messages\nsecret=a\\;b\n  ;indented\n"
    )
    conf, diags = read({"a.conf": text})
    assert not diags.items
    assert pairs(conf.sections[0]) == [("format", "wav49|gsm"), ("secret", "a;b")]


def test_block_comments_span_lines_and_nest():
    text = "[s]\na=1 ;-- start\nb=2\n;-- inner --; still\n--; c=3\nd=4 ;-- x --; e\n"
    conf, diags = read({"a.conf": text})
    assert not diags.items
    assert pairs(conf.sections[0]) == [("a", "1"), ("c", "3"), ("d", "4  e")]


def test_unterminated_block_comment_points_at_its_start():
    _, diags = read({"a.conf": "[s]\na=1\n;-- never\nb=2\n"})
    assert lines(diags) == [
        "a.conf:3: error: block comment ';--' is never closed (end it with '--;')"
    ]


def test_strip_comments_directly():
    block = BlockComment()
    where = Location("f", 1)
    assert strip_comments("a=1", block, where) == "a=1"
    assert strip_comments(r"a=\;;c", block, where) == "a=;"
    assert strip_comments("x;--", block, where) == "x"
    assert block.depth == 1
    assert strip_comments("--;y", block, where) == "y"


def test_include_relative_quoted_and_glob():
    files = {
        "a.conf": '[s]\n#include "inc/b.conf"\n#include <inc/c*.conf>\nz=1\n',
        "inc/b.conf": "b=1\n",
        "inc/c1.conf": "[t]\nc=1\n",
        "inc/c2.conf": "c=2\n",
    }
    conf, diags = read(files)
    assert not diags.items
    s, t = conf.sections
    assert pairs(s) == [("b", "1")]
    assert pairs(t) == [("c", "1"), ("c", "2"), ("z", "1")]
    assert str(t.items[1].location) == "inc/c2.conf:1"
    assert conf.files == ["a.conf", "inc/b.conf", "inc/c1.conf", "inc/c2.conf"]


def test_missing_include_is_an_error_but_tryinclude_is_not():
    _, diags = read({"a.conf": "#include gone.conf\n#tryinclude gone.conf\n"})
    assert lines(diags) == [
        "a.conf:1: error: #include gone.conf: file not found "
        "(use #tryinclude for a file that may be absent)"
    ]


def test_include_cycle_is_reported_with_the_chain():
    files = {"a.conf": "#include b.conf\n", "b.conf": "\n#include a.conf\n"}
    _, diags = read(files)
    assert lines(diags) == [
        "b.conf:2: error: include cycle: a.conf -> b.conf -> a.conf "
        "(remove one of these #include lines)"
    ]


def test_exec_is_refused_and_unknown_directives_reported():
    _, diags = read({"a.conf": "#exec /bin/date\n#inclde x\n"})
    out = lines(diags)
    assert out[0].startswith("a.conf:1: error: #exec is refused")
    assert out[1] == "a.conf:2: error: unknown directive '#inclde' (did you mean 'include'?)"


def test_syntax_errors_carry_file_and_line():
    text = "[s\n[]\n[ok]\njust text\n=value\n[x] trailing\n"
    _, diags = read({"a.conf": text})
    assert lines(diags) == [
        "a.conf:1: error: section header '[s' has no closing ']'",
        "a.conf:2: error: section header has an empty name",
        "a.conf:4: error: expected 'option = value', found 'just text' (is a '=' or '=>' missing?)",
        "a.conf:5: error: option with no name in '=value'",
        "a.conf:6: error: unexpected text 'trailing' after section [x] "
        "(templates are written [name](template1,template2))",
    ]


def test_binary_garbage_is_one_error():
    conf, diags = read({"a.conf": b"[s]\nok=1\n\x00\x01\x02garbage\xff"})
    assert lines(diags) == [
        "a.conf:3: error: not a text file: control byte 0x00 at line 3 "
        "(config files are plain text; check that the right file is named)"
    ]
    assert conf is not None and conf.sections == []


def test_latin1_is_read_with_a_warning_and_bom_is_skipped():
    conf, diags = read({"a.conf": "\ufeff[s]\nname=Hélène\n".encode("utf-8")})
    assert not diags.items and conf.sections[0].value("name") == "Hélène"
    conf, diags = read({"a.conf": "[s]\nname=Hélène\n".encode("latin-1")})
    assert conf.sections[0].value("name") == "Hélène"
    assert lines(diags) == [
        "a.conf:2: warning: file is not valid UTF-8; read as Latin-1 (save the file as UTF-8)"
    ]


def test_crlf_and_missing_final_newline():
    conf, diags = read({"a.conf": "[s]\r\na=1\r\nb=2"})
    assert not diags.items
    assert pairs(conf.sections[0]) == [("a", "1"), ("b", "2")]


def test_missing_and_oversized_files():
    diags = Diagnostics()
    reader = ConfigReader(DictSource({"big.conf": "x" * 100}), diags, max_bytes=10)
    assert reader.read("gone.conf") is None
    assert reader.read("opt.conf", required=False) is None
    assert reader.read("big.conf") is None
    assert lines(diags) == [
        "big.conf: error: big.conf is too large",
        "gone.conf: error: file gone.conf not found (is --config-dir the right folder?)",
    ]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_never_raise(data: bytes):
    conf, diags = read({"a.conf": data})
    assert conf is not None
    for finding in diags.items:
        assert finding.location is not None and finding.location.file == "a.conf"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "[s]",
                "[t](!)",
                "[u](t)",
                "[s](+)",
                "a=1",
                "b => 2",
                ";c",
                ";--",
                "--;",
                "#include a.conf",
                "#tryinclude b.conf",
                "x",
                "\\;",
                "[",
                "=",
                "[v](nope)",
            ]
        ),
        max_size=30,
    )
)
def test_any_arrangement_of_syntax_never_raises(parts: list[str]):
    files = {"a.conf": "\n".join(parts), "b.conf": "\n".join(reversed(parts))}
    conf, _ = read(files)
    assert conf is not None
