"""English and Chinese (Flask-Babel): which language a request gets, its texts, and messages in it (the
switch between languages is a page: app/web/language.py).

The choice is a cookie (it outlives a session, so it survives sign-in); without one, Accept-Language
decides: any zh variant (zh-CN, zh-TW, zh-HK, zh-Hans...) gets the one Chinese catalogue, Simplified.
The catalogue folder is translations/zh: Babel finds `zh`, and matching by primary tag here avoids
Werkzeug's best_match failing zh-CN against zh_Hans_CN."""

import logging
import os
from collections.abc import Mapping
from typing import Any, cast

from flask import Flask, g, has_app_context, request
from flask_babel import Babel, get_locale, get_translations
from flask_babel.speaklater import LazyString

from app.core.messages import Problem
from app.core.paths import ROOT

TRANSLATIONS = os.path.join(ROOT, "translations")
LANGUAGES = {"en": "English", "zh": "中文"}
HTML_LANG = {"en": "en", "zh": "zh-CN"}
COOKIE = "lang"
COOKIE_SECONDS = 365 * 86400


def translations() -> Any:
    """This request's catalogue, found once per request. Flask-Babel finds it again on every call
    (about 30 microseconds each: a job page makes some 160 of them, for its labels and texts)."""
    if not has_app_context():
        return get_translations()
    found = g.get("_translations")
    if found is None:
        found = g._translations = get_translations()
    return found


def gettext(string: str, **variables: object) -> str:
    """The text in the request's language, through the catalogue found once per request: the one way the
    app translates (pages, forms, messages)."""
    text = translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables: object) -> str:
    """The singular or plural text for num, through the request's catalogue; %(num)s is filled in."""
    text = translations().ungettext(singular, plural, num)
    return text % {"num": num, **variables}


def lazy_gettext(string: str, **variables: object) -> str:
    """A text translated when shown, in the language of the request showing it (form labels). A LazyString
    reads as a str wherever one is expected (WTForms' labels and messages), so it is typed as one."""
    return cast(str, LazyString(gettext, string, **variables))


def _template_gettext(string):  # Jinja's i18n extension fills in the values and escapes them
    return translations().ugettext(string)


def _template_ngettext(singular, plural, num):
    return translations().ungettext(singular, plural, num)


def select_language() -> str:
    chosen = g.get("language") or request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for value, _quality in request.accept_languages:  # best first
        primary = value.replace("_", "-").split("-")[0].lower()
        if primary in LANGUAGES:
            return primary
    return "en"


def current_language() -> str:
    return str(get_locale() or "en").split("_")[0]


class Localized(str):
    """Text from a data file (a profile's label, an example's title) with its translations: "label" and
    "label_zh" in the TOML. Reads as the English text; localized() picks the reader's."""

    translations: dict[str, str]

    def __new__(cls, text, translations=None):
        self = super().__new__(cls, text)
        self.translations = {k: str(v) for k, v in (translations or {}).items() if v}
        return self


def localized_field(entry: Mapping, key: str) -> Localized:
    """entry[key] with its translations (entry[key + "_zh"], ...)."""
    return Localized(str(entry.get(key) or ""), {lang: entry.get(f"{key}_{lang}") for lang in LANGUAGES})


def localized(value: Any) -> Any:
    if isinstance(value, Localized):
        return value.translations.get(current_language(), str(value))
    return value


def init_i18n(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = TRANSLATIONS
    Babel(app, locale_selector=select_language)
    app.jinja_env.install_gettext_callables(_template_gettext, _template_ngettext, newstyle=True)  # pyright: ignore[reportAttributeAccessIssue]  (Jinja's i18n extension adds it)
    app.add_template_filter(localized)
    app.context_processor(
        lambda: {"languages": LANGUAGES, "lang": current_language(), "html_lang": HTML_LANG[current_language()]}
    )
    warn_if_not_compiled()


def warn_if_not_compiled() -> None:
    """A catalogue edited but not compiled shows English: say so once at start-up."""
    for lang in LANGUAGES:
        if lang == "en":
            continue
        po = os.path.join(TRANSLATIONS, lang, "LC_MESSAGES", "messages.po")
        mo = po[:-2] + "mo"
        if os.path.exists(po) and (not os.path.exists(mo) or os.path.getmtime(mo) < os.path.getmtime(po)):
            logging.getLogger("app").warning("the %s catalogue is not compiled: run `make translations`", lang)


def _translate(problem):
    values = {k: _translate(v) if isinstance(v, Problem) else v for k, v in problem.values.items()}
    try:
        return gettext(problem.msgid, **values)
    except (KeyError, ValueError, TypeError):
        return str(problem)


def problem_text(value: Any) -> Any:
    """A message in the reader's language: the app's own translated; anything else exactly as it is."""
    if isinstance(value, Problem):
        return _translate(value)
    return value
