"""One message table for every refusal (fedicity.web.messages): each code the domain or a form
raises has a message with its French translation, one fallback covers the rest, and the pages
show the message, never the bare code nor its English text to a French reader."""

from __future__ import annotations

import html
import re
from pathlib import Path

from babel.messages.pofile import read_po
from quart import Quart
from quart.typing import TestClientProtocol

from fedicity.accounts import passwords
from fedicity.accounts import service as accounts
from fedicity.actors import queries as actor_queries
from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from fedicity.organizations import service as organizations
from fedicity.urls import Urls
from fedicity.web import i18n
from fedicity.web.messages import FALLBACK, MESSAGES, message
from tests.conftest import FixedKeys

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "fedicity"
CATALOG = SOURCE / "web" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
PASSWORD = "correct horse battery staple"

_CLASS = re.compile(r"^class (\w+)\((\w+)\):", re.MULTILINE)
# Codes the web layer names itself: error="...", error = "...", ?error=..., message("...").
_WEB_CODES = [
    re.compile(r"\berror\s*=\s*\"([a-z_]+)\""),
    re.compile(r"[?&]error=([a-z_]+)\b"),
    re.compile(r"\bmessage\(\"([a-z_]+)\"\)"),
]


def _sources() -> dict[Path, str]:
    return {path: path.read_text() for path in sorted(SOURCE.rglob("*.py"))}


def _domain_errors(sources: dict[Path, str]) -> set[str]:
    """DomainError and every class that derives from it, read from the class statements."""
    parents = {name: base for text in sources.values() for name, base in _CLASS.findall(text)}
    found = {"DomainError"}
    while True:
        more = {name for name, base in parents.items() if base in found} - found
        if not more:
            return found
        found |= more


def raised_codes() -> dict[str, set[str]]:
    """Every refusal code written in fedicity/, with the files that write it."""
    sources = _sources()
    names = "|".join(sorted(_domain_errors(sources)))
    raising = re.compile(rf"\b(?:{names})\(\s*\"([a-z_]+)\"")
    codes: dict[str, set[str]] = {}
    for path, text in sources.items():
        for pattern in [raising, *_WEB_CODES]:
            for code in pattern.findall(text):
                codes.setdefault(code, set()).add(str(path.relative_to(ROOT)))
    # accounts.passwords names its refusals by returning them: ask it for each.
    for password in ("short", "x" * (passwords.MAX_LENGTH + 1), "password1"):
        problem = passwords.password_problem(password)
        assert problem is not None, password
        codes.setdefault(problem, set()).add("fedicity/accounts/passwords.py")
    return codes


def test_the_domain_errors_share_one_base() -> None:
    errors = _domain_errors(_sources())
    for name in ("EventError", "ProposalError", "MembershipError", "PostError", "ActorError"):
        assert name in errors
    for name in ("AccountError", "MediaError", "TerritoryError", "FollowError"):
        assert name in errors


def test_every_raised_code_has_a_message_translated_into_french() -> None:
    codes = raised_codes()
    # The scan sees the codes of every package (a broken pattern would find next to nothing).
    assert len(codes) > 100
    for known in ("time_invalid", "last_admin", "not_eligible", "password_common", "self"):
        assert known in codes
    missing = {code: sorted(files) for code, files in codes.items() if code not in MESSAGES}
    assert missing == {}
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    untranslated = [
        text
        for text in [*MESSAGES.values(), FALLBACK]
        if (entry := catalog.get(text)) is None or not entry.string
    ]
    assert untranslated == []


def test_no_other_table_of_messages_remains() -> None:
    tables = [
        str(path.relative_to(ROOT))
        for path, text in _sources().items()
        if re.search(r"^\w*MESSAGES\s*[:=]", text, re.MULTILINE)
    ]
    assert tables == ["fedicity/web/messages.py"]


def test_an_unknown_code_gets_the_one_fallback() -> None:
    i18n.activate("fr")
    try:
        assert message("no_such_code") == "Cette demande n'a pas pu aboutir."
        assert message("last_admin") != MESSAGES["last_admin"]  # French, not the msgid
    finally:
        i18n.activate("en")
    assert message("no_such_code") == FALLBACK


async def _log_in(client: TestClientProtocol, username: str) -> str:
    page = await (await client.get("/login")).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    await client.post(
        "/login", form={"csrf_token": found.group(1), "login": username, "password": PASSWORD}
    )
    page = await (await client.get("/organizations/new")).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


async def _shown_error(client: TestClientProtocol, location: str) -> str:
    page = html.unescape(await (await client.get(location)).get_data(as_text=True))
    found = re.search(r'<p class="error" role="alert">([^<]*)</p>', page)
    assert found is not None, page[:2000]
    return found.group(1)


async def test_organisation_pages_show_the_french_message_not_the_code(
    app: Quart, client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    # Given Camille, French-speaking admin of the organisation `velo`, logged in
    async with pool.acquire() as conn:
        account = await accounts.register(
            conn, username="camille", password=PASSWORD, keygen=keygen, locale="fr"
        )
        camille = await actor_queries.select_actor_by_id(conn, account.actor_id)
        assert camille is not None
        await organizations.create(
            conn,
            creator=camille,
            username="velo",
            organization_kind="association",
            display_name="Vélo",
            keygen=keygen,
            env=organizations.Env(urls=Urls("http://fedicity.test"), clock=clock),
        )
    csrf = await _log_in(client, "camille")
    # When she creates an organisation with a membership mode the service refuses
    created = await client.post(
        "/organizations",
        form={
            "csrf_token": csrf,
            "username": "jardin",
            "kind": "association",
            "membership_mode": "lottery",
        },
    )
    # Then the form says why by its field, in French (it showed the bare code "mode_invalid")
    assert created.status_code == 422
    again = html.unescape(await created.get_data(as_text=True))
    assert (
        '<span class="field-error" id="membership_mode-error">'
        "L'adhésion est libre, sur validation ou sur invitation.</span>"
    ) in again
    assert 'value="jardin"' in again
    # When she gives herself a role that does not exist
    changed = await client.post(
        "/organizations/velo/role",
        form={"csrf_token": csrf, "member": "http://fedicity.test/actors/camille", "role": "king"},
    )
    # Then the organisation's page says why, in French (it showed "role_invalid")
    assert changed.status_code == 303
    assert await _shown_error(client, changed.headers["Location"]) == (
        "Choisissez un rôle dans la liste."
    )
    # And a refusal that has a message is shown in French, not in the English of its msgid
    # (the page showed "The last admin cannot leave or be demoted.")
    assert await _shown_error(client, "/organizations/velo?error=last_admin") == (
        "Le ou la dernier·e administrateur·rice ne peut ni partir ni être rétrogradé·e."
    )
    # And a code nobody raises gets the one fallback, never its own text echoed
    assert await _shown_error(client, "/organizations/velo?error=pwned") == (
        "Cette demande n'a pas pu aboutir."
    )
