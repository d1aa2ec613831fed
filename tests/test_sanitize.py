"""The remote-HTML policy: hostile markup, Mastodon's own markup, and the plain-text view."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fedicity.sanitize import checked_html, html_to_text, is_safe_link, sanitize_html

INBOUND = Path(__file__).parent / "fixtures" / "inbound"
REL = 'rel="nofollow noopener noreferrer"'


def payload(name: str) -> dict[str, Any]:
    """A recorded payload from tests/fixtures/inbound/."""
    document: dict[str, Any] = json.loads((INBOUND / name).read_text())
    return document


# --- dropped outright, content included ----------------------------------------------------


@pytest.mark.parametrize(
    ("dirty", "clean"),
    [
        ("<p>hi<script>alert(1)</script></p>", "<p>hi</p>"),
        ("<p>hi</p><script>document.cookie</script>", "<p>hi</p>"),
        ("<style>body{display:none}</style><p>x</p>", "<p>x</p>"),
        ('<iframe src="https://evil.example">fallback <b>text</b></iframe>ok', "ok"),
        ('<object data="x.swf"><param name="a" value="b">fallback</object>ok', "ok"),
        ('<embed src="x.swf">ok', "ok"),
        ("<template><p>hidden</p></template>ok", "ok"),
        ('<svg onload="alert(1)"><a href="https://x.example/">in svg</a></svg>ok', "ok"),
        ("<svg><script>alert(1)</script></svg>", ""),
        ('<math><mtext><table><mglyph><style><img src=x onerror="alert(1)">', ""),
        ("<SCRIPT SRC=//evil.example/x.js></SCRIPT>ok", "ok"),
        ("<script>unterminated", ""),
    ],
)
def test_dangerous_elements_go_with_their_content(dirty: str, clean: str) -> None:
    assert sanitize_html(dirty) == clean


@pytest.mark.parametrize(
    "dirty",
    [
        "<scr<script>ipt>alert(1)</script>",
        "<<script>script>alert(1)<</script>/script>",
        '<p title="</p><script>alert(1)</script>">x</p>',
        '<img src=x onerror="alert(1)">',
        '<img src="javascript:alert(1)">',
        '<body onload="alert(1)">',
        '<div onmouseover="alert(1)">x</div>',
        '<a href="https://ok.example/" onclick="alert(1)">x</a>',
        '<p style="background:url(javascript:alert(1))">x</p>',
        '<input autofocus onfocus="alert(1)">',
        '<details open ontoggle="alert(1)">x</details>',
        '<form action="javascript:alert(1)"><button>x</button></form>',
        '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
        '<base href="https://evil.example/">',
        '<link rel="stylesheet" href="https://evil.example/x.css">',
        "<!--<script>alert(1)</script>-->",
        # The classic noscript mXSS: the title attribute closes noscript for a scripting browser.
        '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></p></noscript>',
        "<![CDATA[<script>alert(1)</script>]]>",
    ],
)
def test_no_script_survives(dirty: str) -> None:
    clean = sanitize_html(dirty)
    lowered = clean.lower()
    for marker in ("<script", "onerror", "onload", "onclick", "onmouse", "onfocus", "ontoggle"):
        assert marker not in lowered, clean
    for marker in ("javascript:", "style=", "<img", "<iframe", "<meta", "<base", "<link", "<form"):
        assert marker not in lowered, clean


# --- links -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "jav&#x09;ascript:alert(1)",
        "jav&#x0A;ascript:alert(1)",
        "&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)",
        "javascript&colon;alert(1)",
        " javascript:alert(1)",
        "\x01javascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "data:image/svg+xml,<svg onload=alert(1)>",
        "file:///etc/passwd",
        "xmpp:someone@example.org",
        "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a",
        "/settings/delete",
        "//evil.example/",
        "#top",
        "",
    ],
)
def test_links_without_an_allowed_scheme_are_unwrapped(href: str) -> None:
    assert not is_safe_link(href)
    clean = sanitize_html(f'<p>see <a href="{href}">this</a>.</p>')
    assert clean == "<p>see this.</p>"


@pytest.mark.parametrize(
    "href",
    ["https://example.org/a?b=1&amp;c=2", "http://example.org/", "mailto:mairie@ville.example"],
)
def test_allowed_links_get_a_forced_rel_and_lose_target(href: str) -> None:
    dirty = f'<a href="{href}" target="_blank" rel="opener me" title="t" onclick="x()">l</a>'
    assert sanitize_html(dirty) == f'<a href="{href}" {REL}>l</a>'


def test_rel_tag_survives_for_hashtags() -> None:
    dirty = (
        '<a href="https://m.example/tags/x" class="mention hashtag" rel="tag">#<span>x</span></a>'
    )
    assert sanitize_html(dirty) == (
        '<a href="https://m.example/tags/x" class="mention hashtag" '
        'rel="tag nofollow noopener noreferrer">#<span>x</span></a>'
    )


def test_link_without_href_is_unwrapped_and_nesting_is_kept_sane() -> None:
    assert sanitize_html('<a name="x">anchor</a> <a href="https://a.example/">b</a>') == (
        f'anchor <a href="https://a.example/" {REL}>b</a>'
    )


# --- classes and attributes ------------------------------------------------------------------


def test_mention_markup_is_kept() -> None:
    dirty = (
        '<span class="h-card" translate="no"><a href="https://h.example/@u" '
        'class="mention u-url">@<span>u</span></a></span>'
    )
    assert sanitize_html(dirty) == (
        '<span class="h-card"><a href="https://h.example/@u" class="mention u-url" '
        f"{REL}>@<span>u</span></a></span>"
    )


def test_unknown_classes_are_dropped_known_ones_kept() -> None:
    dirty = (
        '<span class="invisible">https://</span><span class="ellipsis evil">long</span>'
        '<span class="hidden-everything">x</span><p class="invisible">p</p>'
    )
    assert sanitize_html(dirty) == (
        '<span class="invisible">https://</span><span class="ellipsis">long</span>'
        "<span>x</span><p>p</p>"
    )


def test_style_id_and_event_attributes_are_removed() -> None:
    dirty = '<p id="x" style="color:red" onclick="a()" dir="rtl">t</p><span style="x">s</span>'
    assert sanitize_html(dirty) == "<p>t</p><span>s</span>"


def test_list_numbering_is_kept_when_numeric() -> None:
    dirty = '<ol start="3" reversed onclick="x"><li value="x">a</li><li value="7">b</li></ol>'
    assert sanitize_html(dirty) == '<ol start="3" reversed=""><li>a</li><li value="7">b</li></ol>'


# --- structure and text --------------------------------------------------------------------------


def test_allowed_formatting_passes_unchanged() -> None:
    html = (
        "<p>a<br>b <strong>s</strong> <b>b</b> <em>e</em> <i>i</i> <u>u</u> <s>s</s> <del>d</del> "
        "<sub>2</sub><sup>3</sup> <code>c</code></p><pre>  pre\n    formatted</pre>"
        "<blockquote><p>q</p></blockquote><ul><li>one</li></ul><ol><li>two</li></ol>"
    )
    assert sanitize_html(html) == html


def test_headings_become_bold_paragraphs() -> None:
    assert sanitize_html('<h1 id="t">Title</h1><h6>small</h6><p>body</p>') == (
        "<p><strong>Title</strong></p><p><strong>small</strong></p><p>body</p>"
    )


def test_images_and_other_unknown_tags_are_stripped_but_text_kept() -> None:
    assert sanitize_html('<p>before<img src="https://x.example/a.png" alt="alt">after</p>') == (
        "<p>beforeafter</p>"
    )
    assert sanitize_html("<font color=red>red</font> <marquee>m</marquee>") == "red m"


def test_malformed_and_nested_markup_is_balanced() -> None:
    assert sanitize_html("<p>unclosed <b>bold <i>both</p>") == (
        "<p>unclosed <b>bold <i>both</i></b></p>"
    )
    assert sanitize_html("<b><i>x</b></i>") == "<b><i>x</i></b>"
    assert sanitize_html("</p></div>stray end tags") == "<p></p>stray end tags"
    assert sanitize_html("<a href='https://a.example/'><a href='https://b.example/'>x</a></a>") == (
        f'<a href="https://a.example/" {REL}></a><a href="https://b.example/" {REL}>x</a>'
    )


def test_entities_are_preserved_and_text_is_escaped() -> None:
    assert sanitize_html("<p>1 &lt; 2 &amp;&amp; &lt;b&gt;not bold&lt;/b&gt; caf&eacute;</p>") == (
        "<p>1 &lt; 2 &amp;&amp; &lt;b&gt;not bold&lt;/b&gt; caf&eacute;</p>"
    )
    assert sanitize_html("<p>a < b & c > d</p>") == "<p>a &lt; b &amp; c &gt; d</p>"
    assert sanitize_html("<p>&#60;script&#62;</p>") == "<p>&#60;script&#62;</p>"


def test_the_steps_around_the_parser_cannot_be_steered_by_the_author() -> None:
    # Entities are kept by hiding their "&" behind a private-use character during the parse:
    # one the author typed stays their text, and never becomes an "&".
    assert sanitize_html("<p>\ue000lt;b\ue000gt; &amp;</p>") == (
        "<p>&#xe000;lt;b&#xe000;gt; &amp;</p>"
    )
    assert sanitize_html("<p>\ue000lt;b</p>") == "<p>\ue000lt;b</p>"
    # Headings and links are rewritten after the parse: markup quoted in an href is neither.
    dirty = '<a href="https://x.example/?q=<h1></a><a>" class="u-url">x</a><h2>t</h2>'
    assert sanitize_html(dirty) == (
        '<a href="https://x.example/?q=&lt;h1&gt;&lt;/a&gt;&lt;a&gt;" class="u-url" '
        f"{REL}>x</a><p><strong>t</strong></p>"
    )


def test_comments_are_removed() -> None:
    assert sanitize_html("<p>a<!-- secret --></p>") == "<p>a</p>"


def test_empty_and_plain_text() -> None:
    assert sanitize_html("") == ""
    assert sanitize_html("just text") == "just text"


# --- real Mastodon content -----------------------------------------------------------------


def test_real_mastodon_note_with_hashtags_and_a_shortened_link() -> None:
    # Recorded from mastodon.social (via Lemmy's fixtures): hashtags, a link shortened with
    # invisible/ellipsis spans, target=_blank.
    content = payload("mastodon_featured_collection_1.json")["orderedItems"][0]["content"]
    assert sanitize_html(content) == (
        "<p>Inaugural Post for Lemmy, a decentralized, easily self-hostable "
        '<a href="https://mastodon.social/tags/reddit" class="mention hashtag" '
        'rel="tag nofollow noopener noreferrer">#<span>reddit</span></a> / link aggregator '
        "alternative,intended to work in the "
        '<a href="https://mastodon.social/tags/fediverse" class="mention hashtag" '
        'rel="tag nofollow noopener noreferrer">#<span>fediverse</span></a>: </p>'
        f'<p><a href="https://github.com/LemmyNet/lemmy/" {REL}>'
        '<span class="invisible">https://</span><span>github.com/LemmyNet/lemmy/</span>'
        '<span class="invisible"></span></a></p>'
        '<p><a href="https://mastodon.social/tags/activitypub" class="mention hashtag" '
        'rel="tag nofollow noopener noreferrer">#<span>activitypub</span></a></p>'
    )
    assert html_to_text(content) == (
        "Inaugural Post for Lemmy, a decentralized, easily self-hostable #reddit / link "
        "aggregator alternative,intended to work in the #fediverse:\n\n"
        "https://github.com/LemmyNet/lemmy/\n\n#activitypub"
    )


def test_real_mastodon_mention_and_ellipsis_markup() -> None:
    mention = payload("mastodon_create_note_hashtag_1.json")["object"]["content"]
    assert sanitize_html(mention) == (
        '<p><span class="h-card"><a href="http://localtesting.pleroma.lol/users/lain" '
        f'class="u-url mention" {REL}>@<span>lain</span></a></span> #moo</p>'
    )
    assert html_to_text(mention) == "@lain #moo"

    link = payload("mastodon_create_note_attachment_1.json")["object"]["content"]
    assert sanitize_html(link) == (
        f'<p><a href="http://mastodon.example.org/media/hw4nrZmV5DPbW2z_hao" {REL}>'
        '<span class="invisible">http://</span>'
        '<span class="ellipsis">mastodon.example.org/media/hw4</span>'
        '<span class="invisible">nrZmV5DPbW2z_hao</span></a></p>'
    )
    # The text view keeps the whole URL, invisible parts included, for search.
    assert html_to_text(link) == "http://mastodon.example.org/media/hw4nrZmV5DPbW2z_hao"


@pytest.mark.parametrize(
    "dirty",
    [
        '<h1>T</h1><p><a href="https://x.example/" class="mention evil" rel="tag">#x</a></p>',
        "<p>unclosed <b>bold <i>both</p><script>x</script>&amp; &eacute;",
        '<span class="invisible">a</span><a name="n">n</a><ol start="2"><li>x</li></ol>',
    ],
)
def test_sanitizing_is_idempotent(dirty: str) -> None:
    once = sanitize_html(dirty)
    assert sanitize_html(once) == once


# --- plain text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>one</p><p>two</p>", "one\n\ntwo"),
        ("<p>line<br>break<br/><br>double</p>", "line\nbreak\n\ndouble"),
        ("<p>intro</p><ul><li>a</li><li>b</li></ul><p>end</p>", "intro\n\na\nb\n\nend"),
        ("<h2>Title</h2>body", "Title\n\nbody"),
        ("<blockquote><p>quoted</p></blockquote>reply", "quoted\n\nreply"),
        ("<p>  spaced \n\n  out   text </p>", "spaced out text"),
        ("<p>a <b>b</b><i>c</i> d</p>", "a bc d"),
        ("<pre>  code\n    indented</pre>", "  code\n    indented"),
        (
            "<p>1 &lt; 2 &amp;&amp; caf&eacute; &#233; &#x27;q&#x27; &nbsp;x</p>",
            "1 < 2 && café é 'q' x",
        ),
        ("<p>x<script>alert('no')</script>y</p><style>p{}</style>", "xy"),
        ("<p>a</p><iframe><p>hidden</p></iframe><p>b</p>", "a\n\nb"),
        ("<div>d1</div><div>d2</div>", "d1\n\nd2"),
        ("unclosed <b>tags <p>and</div> strays", "unclosed tags\n\nand\n\nstrays"),
        ("", ""),
        ("plain &amp; simple", "plain & simple"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_html_to_text_does_not_produce_markup_from_escaped_text() -> None:
    # The text is unescaped, so it must be escaped again wherever it is shown: this is text.
    assert html_to_text("&lt;script&gt;alert(1)&lt;/script&gt;") == "<script>alert(1)</script>"


@pytest.mark.parametrize(
    "href",
    [
        "java\u0000script:alert(1)",
        "javascript&colon;alert(1)",
        "jav&Tab;ascript:alert(1)",
        "jav&NewLine;ascript:alert(1)",
        "&#x6A;avascript&#x3A;alert(1)",
        "&#0000106avascript:alert(1)",
        "DaTa:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "&#100;ata:text/html,<script>alert(1)</script>",
        "\u0000javascript:alert(1)",
        "vbscript:msgbox(1)",
    ],
)
def test_script_schemes_hidden_by_entities_or_nul_lose_their_link(href: str) -> None:
    cleaned = sanitize_html(f'<a href="{href}">x</a><p>a\u0000b</p>')
    assert "href" not in cleaned
    assert "\u0000" not in cleaned
    assert checked_html(cleaned) == cleaned


def test_deep_nesting_neither_crashes_nor_unbalances() -> None:
    depth = 100_000
    cleaned = sanitize_html("<b><i>" * depth + "x<script>alert(1)</script>" + "</i></b>" * depth)
    assert "script" not in cleaned
    assert cleaned.count("<b>") == cleaned.count("</b>")
    assert cleaned.count("<i>") == cleaned.count("</i>")
    assert html_to_text(cleaned) == "x"


def test_a_huge_input_is_sanitized_whole() -> None:
    chunk = (
        '<p onclick="x">a &amp; b<a href="javascript:y">c</a><a href="https://e.example/">d</a></p>'
    )
    cleaned = sanitize_html(chunk * 20_000)
    assert "onclick" not in cleaned
    assert "javascript" not in cleaned
    assert cleaned.count('href="https://e.example/"') == 20_000
