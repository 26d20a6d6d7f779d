"""Isolating user text that holds bidi controls: closed, wrapped in FSI…PDI, and otherwise left as it is."""

import pytest

from tests.bidi import FSI, HOSTILE_CAPTION, HOSTILE_CLAIM, HOSTILE_TITLE, PDF, PDI, RLI, RLO, unisolated
from verify.bidi import bdi, escape_in_json, isolate, isolate_all


def test_it_leaves_text_without_bidi_controls_as_it_is():
    for text in ("", "Soldiers in Kursk", "جنود في كورسك", "=1+1"):
        assert isolate(text) == text


def test_it_closes_an_open_override_and_wraps_the_text():
    assert isolate(HOSTILE_TITLE) == f"{FSI}abc{RLO}exe.gpj{PDF}{PDI}"


def test_it_closes_an_open_isolate_before_the_embedding_it_holds():
    assert isolate(f"a{RLI}b{RLO}c") == f"{FSI}a{RLI}b{RLO}c{PDF}{PDI}{PDI}"


def test_it_puts_one_more_isolate_around_for_each_close_that_would_end_the_wrapper():
    assert isolate(HOSTILE_CAPTION) == f"{FSI}{FSI}{HOSTILE_CAPTION}{PDF}{PDI}"


def test_it_isolates_each_line_apart_since_a_line_break_ends_every_embedding():
    assert isolate(f"first {RLO}line\nplain line\r\nthird{RLO}") == (
        f"{FSI}first {RLO}line{PDF}{PDI}\nplain line\r\n{FSI}third{RLO}{PDF}{PDI}"
    )


@pytest.mark.parametrize("text", [HOSTILE_TITLE, HOSTILE_CLAIM, HOSTILE_CAPTION, f"{PDF}{PDF}x", f"{RLI}{RLI}{PDI}"])
def test_it_leaves_nothing_that_can_reorder_the_text_around_it(text):
    assert unisolated(text + " → next column")
    assert not unisolated(isolate(text) + " → next column")


@pytest.mark.parametrize("text", [HOSTILE_TITLE, HOSTILE_CLAIM, HOSTILE_CAPTION, "plain"])
def test_it_changes_nothing_more_when_isolating_twice(text):
    assert isolate(isolate(text)) == isolate(text)


def test_it_isolates_every_string_of_json_data_but_not_its_keys():
    data = {HOSTILE_TITLE: [HOSTILE_TITLE, 3, None, {"caption": HOSTILE_CAPTION}]}
    assert isolate_all(data) == {
        HOSTILE_TITLE: [isolate(HOSTILE_TITLE), 3, None, {"caption": isolate(HOSTILE_CAPTION)}]
    }


def test_it_escapes_bidi_controls_in_json_text():
    assert escape_in_json(f'{{"title": "{isolate(HOSTILE_TITLE)}"}}') == (
        '{"title": "\\u2068abc\\u202eexe.gpj\\u202c\\u2069"}'
    )


def test_it_gives_html_an_escaped_isolated_bdi_element():
    assert bdi(f"<b>{HOSTILE_TITLE}</b>") == f"<bdi>{FSI}&lt;b&gt;abc{RLO}exe.gpj&lt;/b&gt;{PDF}{PDI}</bdi>"
    assert bdi("") == "" and bdi(None) == ""
