"""Hostile text with bidi controls, and checks that an output shows it isolated (written apart from verify.bidi)."""

import re
from html.parser import HTMLParser

RLO, PDF, RLE, RLI, PDI = "\u202e", "\u202c", "\u202b", "\u2067", "\u2069"
FSI = "\u2068"
ISOLATE_OPENERS = {"\u2066", "\u2067", "\u2068"}
CONTROLS = {*"\u202a\u202b\u202c\u202d\u202e", *ISOLATE_OPENERS, PDI, "\u200e", "\u200f", "\u061c"}

# A file name that reads "abcjpg.exe" and an override left open, as a tipster might send them.
HOSTILE_TITLE = f"abc{RLO}exe.gpj"
HOSTILE_CLAIM = f"Video shows {RLE}soldiers{PDF} in Kursk, says {RLO}reggahcta"
HOSTILE_CAPTION = f"{PDI}a stray close, then {RLO}an open override"
HOSTILE_NAME = f"photo{RLO}gpj.exe"


def unisolated(text: str) -> list[str]:
    """The lines of `text` where a bidi control is not inside an isolate opened and closed on that line:
    where it could reorder the text around it."""
    problems = []
    for line in re.split("\r\n|[\n\r\x1c-\x1e\x85\u2029]", text):
        depth = 0
        for char in line:
            if char in ISOLATE_OPENERS:
                depth += 1
            elif char == PDI and depth:
                # Closes the isolate and, with it, any embedding opened inside.
                depth -= 1
            elif char in CONTROLS and not depth:
                problems.append(line)
                break
        else:
            if depth:
                problems.append(line)
    return problems


BLOCKS = {"p", "div", "td", "th", "li", "h1", "h2", "h3", "h4", "pre", "dd", "dt", "blockquote", "figcaption"}
VOID = {"br", "img", "input", "meta", "link", "hr", "col", "area", "base", "wbr", "source"}
# Elements whose content the browser keeps apart from the page's text: form controls, and the isolating <bdi>.
APART = {"textarea", "script", "style", "bdi"}
# Attributes a person reads (alt text, a tooltip, a map marker's label).
SHOWN_ATTRIBUTES = {"alt", "title", "data-label", "content"}


class _Node:
    def __init__(self, tag: str, parent: "_Node | None"):
        self.tag, self.parent, self.children = tag, parent, []


class _Tree(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = _Node("#root", None)
        self.attribute_problems = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in SHOWN_ATTRIBUTES and value and unisolated(value):
                self.attribute_problems.append(f'<{tag} {name}="{value}">')
        node = _Node(tag, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node.parent is not None and node.tag != tag:
            node = node.parent
        if node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def _alone_in_a_block(node: _Node, child) -> bool:
    """Whether `child` is all the content of `node`, and so on up through inline elements to a block."""
    while True:
        others = [c for c in node.children if c is not child and not (isinstance(c, str) and not c.strip())]
        if others:
            return False
        if node.tag in BLOCKS:
            return True
        if node.parent is None:
            return False
        node, child = node.parent, node


def _inside(node: _Node, tags: set[str]) -> bool:
    while node is not None:
        if node.tag in tags:
            return True
        node = node.parent
    return False


def html_unisolated(html: str) -> list[str]:
    """Text in `html` whose bidi controls could reorder what surrounds it on the page.

    Text is safe when it is isolated itself (FSI…PDI), inside a form control or <bdi>, or the
    only content of its block (a bidi paragraph ends with the block).
    """
    tree = _Tree()
    tree.feed(html)
    problems = list(tree.attribute_problems)

    def walk(node: _Node):
        for child in node.children:
            if isinstance(child, _Node):
                walk(child)
            elif unisolated(child) and not _inside(node, APART) and not _alone_in_a_block(node, child):
                problems.append(f"<{node.tag}>{child.strip()}")

    walk(tree.root)
    return problems
