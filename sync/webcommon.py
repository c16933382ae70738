"""What the two server-rendered front ends share: their words as data, their security headers.

The union office's console (:mod:`sync.console`) and the members' page
(:mod:`sync.member`) must not import each other (docs/architecture.md): they
show different people different words and allow different things. What they
do alike lives here, once, so the two cannot drift apart:

* **Labels.** Each front end keeps every word it shows in ``labels/*.toml`` of
  its own package, ``key = ["中文", "English"]``. :func:`load_folder` reads
  them at import and refuses a label without both languages, or a key in two
  files, so a half-translated page never reaches anyone; :func:`translator`
  is the ``t("key")`` its templates call (an unknown key raises at render time,
  and the tests render every page in both languages).
* **Security headers.** :func:`install_security_headers` sends the same set of
  headers on every answer of an app; each front end passes its own policies
  to :func:`security_headers` (the member page allows no script at all, the
  console its own scripts).
* **The app.** :func:`front_end_app` makes each one's sub-application alike.
* **Cookies and the language.** :func:`cookie_args` gives both front ends'
  cookies the same guards (HttpOnly, Secure under HTTPS, scoped to where the
  front end is mounted; each picks its SameSite), :func:`lang_of` reads the
  viewer's language from the front end's own cookie (``zh`` unless it names
  another known language) and :func:`switch_href` links to the other one.
* **Templates.** :func:`templates` sets up each one's Jinja environment alike.
"""

from __future__ import annotations

import tomllib
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

#: key -> (Chinese, English)
Labels = dict[str, tuple[str, str]]


def load(path: Path) -> Labels:
    """One labels file: ``key = ["中文", "English"]``, both non-empty (checked here, at import,
    so a half-translated label never reaches a page)."""
    with path.open("rb") as f:
        data = tomllib.load(f)
    out: Labels = {}
    for key, value in data.items():
        ok = isinstance(value, list) and len(value) == 2
        if not ok or not all(isinstance(v, str) and v.strip() for v in value):
            raise ValueError(f'{path.name}: {key} must be ["中文", "English"], both non-empty')
        out[key] = (value[0], value[1])
    return out


def extend(table: Labels, more: Labels, what: str) -> None:
    """Add one page family's labels to ``table``; a key defined twice is a bug."""
    clash = table.keys() & more.keys()
    if clash:
        raise KeyError(f"{what} labels defined twice: {sorted(clash)}")
    table.update(more)


def load_folder(folder: Path, what: str) -> Labels:
    """Every ``*.toml`` of ``folder``, in name order, as one table (``what`` names it in errors).

    A build that left the folder out (the kiosk's bundle, which serves
    neither front end) gets an empty table rather than a failed import.
    """
    table: Labels = {}
    for path in sorted(folder.glob("*.toml")):
        extend(table, load(path), what)
    return table


def translator(table: Labels, lang: str) -> Callable[[str], str]:
    """``t(key)`` for one language; an unknown key is a bug and raises ``KeyError``."""
    index = 1 if lang == "en" else 0

    def t(key: str) -> str:
        return table[key][index]

    return t


def translator_or(table: Labels, lang: str) -> Callable[[str, str], str]:
    """``t_or(key, fallback)``: for codes that may have no label yet, shown as the fallback
    rather than failing the page."""
    index = 1 if lang == "en" else 0

    def t_or(key: str, fallback: str) -> str:
        return table[key][index] if key in table else fallback

    return t_or


def security_headers(csp: str, referrer_policy: str) -> dict[str, str]:
    """The headers of a front end: its own Content-Security-Policy and Referrer-Policy, and
    what both always send (never framed, no content-type sniffing)."""
    return {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": referrer_policy,
    }


def install_security_headers(app: FastAPI, headers: Mapping[str, str]) -> None:
    """Send ``headers`` with every answer of ``app`` (a route that sets one itself keeps its own)."""
    fixed = dict(headers)

    @app.middleware("http")
    async def _security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for k, v in fixed.items():
            response.headers.setdefault(k, v)
        return response


def templates(folder: Path) -> Environment:
    """A front end's Jinja templates in ``folder``: HTML escaped (no viewer's text becomes
    markup), an undefined name an error rather than an empty string, blocks trimmed."""
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def front_end_app(sessions: object, static: Path, headers: Mapping[str, str]) -> FastAPI:
    """A front end's FastAPI sub-application, before its routes and error pages: no API docs
    (it serves pages, not an API), the server's sessionmaker in ``app.state.sessions`` (what
    ``sync.server.deps`` opens a session from), its security ``headers`` on every answer
    and its own assets under ``/static``."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sessions = sessions
    install_security_headers(app, headers)
    app.mount("/static", StaticFiles(directory=static), name="static")
    return app


def base_of(request: Request) -> str:
    """Where the front end is mounted (``/console``, ``/m``), for every link, form and cookie."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def lang_of(request: Request, cookie: str) -> str:
    """The viewer's language: the front end's ``cookie`` when it names a known language,
    else Chinese (a stale or forged value shows the default page, never an error)."""
    lang = request.cookies.get(cookie, DEFAULT_LANG)
    return lang if lang in LANGS else DEFAULT_LANG


def switch_href(base: str, lang: str, here: str) -> str:
    """The 中文/English link of every page: the other language, then back to ``here``."""
    return f"{base}/lang/{'zh' if lang == 'en' else 'en'}?next={quote(here)}"


def cookie_args(request: Request, samesite: Literal["lax", "strict"]) -> dict[str, Any]:
    """A session or form cookie's guards: HttpOnly (no script reads it), ``samesite`` as the
    front end needs, Secure when the server speaks HTTPS, scoped to the front end's path."""
    return {
        "httponly": True,
        "samesite": samesite,
        "secure": request.url.scheme == "https",
        "path": base_of(request) or "/",
    }


def safe_next(request: Request, target: str, fallback: str) -> str:
    """``target`` when it is a path inside this front end, else ``fallback`` under it: a
    ``?next=`` never redirects to another site (``//host``, a backslash, another prefix)."""
    base = base_of(request)
    if target.startswith(f"{base}/") and not target.startswith("//") and "\\" not in target:
        return target
    return f"{base}{fallback}"
