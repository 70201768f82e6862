# mypy: ignore-errors
# Test target for xss.yaml (semgrep --test); never imported.
import html

from django.utils.html import format_html
from django.utils.safestring import mark_safe
from flask import request
from markupsafe import Markup, escape


def greeting():
    name = request.args.get("name", "")
    # ruleid: turbosec.python.xss-unescaped-markup
    return Markup("<h1>Hello " + name + "</h1>")


def comment_html(comment):
    # ruleid: turbosec.python.xss-unescaped-markup
    return mark_safe(f"<p>{comment.body}</p>")


def badge(label):
    # ruleid: turbosec.python.xss-unescaped-markup
    return Markup(label)


def safe_variants(name, comment):
    # ok: turbosec.python.xss-unescaped-markup
    a = Markup("<h1>Hello {}</h1>").format(name)
    # ok: turbosec.python.xss-unescaped-markup
    b = Markup("<hr>")
    # ok: turbosec.python.xss-unescaped-markup
    c = mark_safe(format_html("<p>{}</p>", comment.body))
    # ok: turbosec.python.xss-unescaped-markup
    d = Markup(escape(name))
    # ok: turbosec.python.xss-unescaped-markup
    e = mark_safe(html.escape(name))
    return a, b, c, d, e
