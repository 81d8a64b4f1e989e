"""Reading the app's HTML as a browser would: a real parser, not regular expressions, so attribute order
and white space do not matter."""

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict
    text: str = ""
    children: list = field(default_factory=list)


class Page(HTMLParser):
    """Every element of a page with its attributes and text; look them up by id, name or tag."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.elements, self._open = [], []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: (v if v is not None else "") for k, v in attrs})
        self.elements.append(element)
        if tag == "option":  # a select's own options, for value()
            selects = [e for e in self._open if e.tag == "select"]
            if selects:
                selects[-1].children.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.elements.append(Element(tag, {k: (v if v is not None else "") for k, v in attrs}))

    def handle_endtag(self, tag):
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                break

    def handle_data(self, data):
        for element in self._open:
            element.text += data

    # --- looking things up -----------------------------------------------------------------------

    def find(self, tag=None, **attrs):
        """Elements of that tag (any, if None) whose attributes include attrs (class_ for class)."""
        wanted = {k.rstrip("_").replace("_", "-") if k != "class_" else "class": v for k, v in attrs.items()}
        return [
            e
            for e in self.elements
            if (tag is None or e.tag == tag) and all(e.attrs.get(k) == v for k, v in wanted.items())
        ]

    def by_id(self, element_id):
        found = self.find(id=element_id)
        assert found, f"no element with id {element_id!r} in the page"
        return found[0]

    def value(self, name):
        """A form control's value as the browser would send it (first control of that name)."""
        controls = [
            e for e in self.elements if e.attrs.get("name") == name and e.tag in ("input", "textarea", "select")
        ]
        assert controls, f"no form control named {name!r}"
        control = controls[0]
        if control.tag == "textarea":  # a browser drops one line break right after <textarea>
            text = control.text.replace("\r\n", "\n")
            return text[1:] if text.startswith("\n") else text
        if control.tag == "select":
            chosen = [e for e in control.children if "selected" in e.attrs] or control.children[:1]
            return chosen[0].attrs.get("value", chosen[0].text) if chosen else ""
        return control.attrs.get("value", "")

    def hidden(self, name="csrf_token"):
        found = self.find("input", type="hidden", name=name)
        assert found and found[0].attrs.get("value"), f"no hidden {name} in the page"
        return found[0].attrs["value"]

    def text(self, element_id):
        return " ".join(self.by_id(element_id).text.split())


def hidden_value(html, name="csrf_token"):
    """The value of the first hidden input of that name (the CSRF token by default)."""
    return Page(html).hidden(name)
