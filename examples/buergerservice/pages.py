"""The page layout of the gateway's HTML (plain strings: no template engine to install)."""

from __future__ import annotations

from html import escape

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1a1a1a}
header{background:#005a9f;color:#fff;padding:.8rem 1.5rem;display:flex;justify-content:space-between}
header a{color:#fff}main{max-width:48rem;margin:1.5rem auto;background:#fff;padding:1.5rem;border-radius:6px}
label{display:block;margin:.6rem 0 .2rem}input{padding:.4rem;width:100%;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1.2rem;background:#005a9f;color:#fff;border:0;border-radius:4px}
.error{color:#b00020}.steps a{margin-right:.8rem}footer{text-align:center;color:#777;font-size:.8rem}
"""


def layout(title: str, body: str, *, version: str, logged_in: bool = True) -> str:
    nav = ('<nav><a href="/">Übersicht</a> · <a href="/forms">Anträge</a> · <a href="/appointments">Termine</a>'
           ' · <form method="post" action="/logout" style="display:inline"><button>Abmelden</button></form></nav>'
           if logged_in else "")
    return (f'<!doctype html><html lang="de"><head><meta charset="utf-8"><title>{escape(title)} · Bürgerservice'
            f'</title><style>{STYLE}</style></head><body><header><strong>Bürgerservice München</strong>{nav}'
            f'</header><main><h1>{escape(title)}</h1>{body}</main>'
            f'<footer>gateway {escape(version)}</footer></body></html>')


def field_input(field: dict, value: str) -> str:
    kind = {"date": "date", "email": "email", "number": "number"}.get(field["type"], "text")
    required = " required" if field["required"] else ""
    return (f'<label for="{escape(field["name"])}">{escape(field["label"])}</label>'
            f'<input id="{escape(field["name"])}" name="{escape(field["name"])}" type="{kind}"'
            f' value="{escape(value)}"{required}>')
