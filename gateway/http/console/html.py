"""Building blocks of the console's server-rendered pages. Every value is escaped unless it
is an `Html` fragment built here, so no text from the store or a request reaches the page
as markup."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

__all__ = ["Html", "badge", "card", "esc", "form", "hidden", "layout", "link", "table",
           "when"]

NAV = (("overview", "Overview", "/console/"), ("accounts", "Accounts", "/console/accounts"),
       ("messages", "Messages", "/console/messages"),
       ("webhooks", "Webhooks", "/console/webhooks"),
       ("routes", "Routes & connectors", "/console/routes"))


class Html(str):
    """Markup that is already safe (built by these helpers)."""


def esc(value: Any) -> Html:
    if isinstance(value, Html):
        return value
    return Html(escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[Any]) -> Html:
    return Html("".join(esc(p) for p in parts))


def link(href: str, text: Any, cls: str = "") -> Html:
    klass = f' class="{esc(cls)}"' if cls else ""
    return Html(f'<a href="{esc(href)}"{klass}>{esc(text)}</a>')


def badge(text: Any, kind: str = "neutral") -> Html:
    return Html(f'<span class="badge badge-{esc(kind)}">{esc(text)}</span>')


def when(ts: float | None) -> Html:
    """A time as 'YYYY-MM-DD HH:MM:SS UTC' (or an em dash)."""
    if ts is None:
        return Html('<span class="muted">—</span>')
    text = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return Html(f'<time datetime="{esc(ts)}">{esc(text)}</time>')


def card(label: str, value: Any, hint: Any = "", ident: str = "") -> Html:
    data = f' id="{esc(ident)}"' if ident else ""
    return Html(f'<div class="card"><div class="card-label">{esc(label)}</div>'
                f'<div class="card-value"{data}>{esc(value)}</div>'
                f'<div class="card-hint">{esc(hint)}</div></div>')


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str,
          ident: str = "") -> Html:
    """A table, or the `empty` sentence when there is no row (so an empty list reads as
    such, not as a broken page)."""
    body = "".join("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>"
                   for row in rows)
    data = f' id="{esc(ident)}"' if ident else ""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    hidden_table = " hidden" if not body else ""
    hidden_empty = " hidden" if body else ""
    return Html(f'<div class="table-wrap"{data}>'
                f'<table class="{hidden_table.strip()}"><thead><tr>{head}</tr></thead>'
                f'<tbody>{body}</tbody></table>'
                f'<p class="empty{hidden_empty}">{esc(empty)}</p></div>')


def hidden(name: str, value: Any) -> Html:
    return Html(f'<input type="hidden" name="{esc(name)}" value="{esc(value)}">')


def form(action: str, csrf: str, fields: Any, submit: str, *, cls: str = "inline",
         button: str = "primary") -> Html:
    """A POST form carrying the session's CSRF token."""
    return Html(f'<form method="post" action="{esc(action)}" class="{esc(cls)}">'
                f'{hidden("csrf", csrf)}{esc(fields)}'
                f'<button type="submit" class="button {esc(button)}">{esc(submit)}</button>'
                f'</form>')


def field(label: str, name: str, value: Any = "", *, kind: str = "text", hint: str = "",
          required: bool = False, extra: str = "") -> Html:
    need = " required" if required else ""
    note = f'<span class="hint">{esc(hint)}</span>' if hint else ""
    return Html(f'<label class="field"><span>{esc(label)}</span>'
                f'<input type="{esc(kind)}" name="{esc(name)}" value="{esc(value)}"'
                f'{need} {extra}>{note}</label>')


def layout(title: str, active: str, body: Any, *, csrf: str | None,
           notice: tuple[str, str] | None = None, scripts: Sequence[str] = (),
           styles: Sequence[str] = ()) -> bytes:
    """The whole page: navigation (when logged in), the notice of the last action, body."""
    nav = '<nav class="top"><span class="brand">smsgw console</span></nav>'
    if csrf is not None:
        items = "".join(
            f'<a href="{esc(href)}" class="{"active" if key == active else ""}">{esc(text)}</a>'
            for key, text, href in NAV)
        logout = form("/console/logout", csrf, "", "Log out", cls="logout", button="quiet")
        nav = f'<nav class="top"><span class="brand">smsgw</span>{items}{logout}</nav>'
    flash = ""
    if notice is not None:
        kind, text = notice
        role = "alert" if kind == "error" else "status"
        flash = f'<div class="notice notice-{esc(kind)}" role="{role}">{esc(text)}</div>'
    links = "".join(f'<link rel="stylesheet" href="{esc(s)}">' for s in
                    ("/console/static/console.css", *styles))
    js = "".join(f'<script src="{esc(s)}" defer></script>' for s in scripts)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{esc(title)} · smsgw console</title>{links}{js}</head>'
            f'<body>{nav}<main>{"" if csrf is None else f"<h1>{esc(title)}</h1>"}'
            f'{flash}{esc(body)}</main>'
            f'</body></html>').encode()
