"""The settings page's profile: pictures uploaded, shown and published, errors by the field with
what was typed kept, and the Update(Person) that tells followers' servers."""

from __future__ import annotations

import html
import json
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from quart import Quart
from quart.datastructures import FileStorage
from quart.typing import TestClientProtocol

from fedicity.actors import queries as actor_queries
from fedicity.db.pool import Pool
from fedicity.media.service import file_path
from fedicity.settings import Settings
from tests.accounts.helpers import (
    assert_signed_by,
    csrf_in,
    log_in,
    picture,
    register,
    remote_follower,
)
from tests.accounts.test_pictures import png_bomb
from tests.conftest import FixedKeys, fixed_keypairs
from tests.flows.harness import eventually, running_instance
from tests.peer import running_peer
from tests.web.test_accounts_web import _log_in as quart_log_in

AP = {"Accept": "application/activity+json"}


def _upload(field: str, data: bytes, name: str = "photo.png") -> dict[str, FileStorage]:
    return {field: FileStorage(BytesIO(data), filename=name, content_type="image/png")}


async def _settings_token(client: TestClientProtocol) -> str:
    return csrf_in(await (await client.get("/settings")).get_data(as_text=True))


def _profile(token: str, **fields: str) -> dict[str, str]:
    form = {"csrf_token": token, "display_name": "Camille", "summary": "Bonjour", "locale": "fr"}
    form.update(fields)
    return form


async def _actor_doc(client: TestClientProtocol, username: str) -> dict[str, object]:
    response = await client.get(f"/actors/{username}", headers=AP)
    assert response.status_code == 200
    document: dict[str, object] = json.loads(await response.get_data(as_text=True))
    return document


async def test_an_uploaded_avatar_and_banner_are_published_shown_and_removable(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, settings: Settings
) -> None:
    # Given a logged-in citizen
    await register(pool, keygen, "camille")
    await quart_log_in(client, "camille", "quatre mots sans rapport")
    token = await _settings_token(client)
    # When she uploads a photo as avatar and a wide one as banner
    response = await client.post(
        "/settings",
        form=_profile(token),
        files={
            **_upload("avatar", picture(900, 600, "JPEG")),
            **_upload("banner", picture(3000, 1200, "JPEG")),
        },
    )
    assert response.status_code == 303, await response.get_data(as_text=True)
    async with pool.acquire() as conn:
        actor = await actor_queries.select_actor_by_username(conn, "camille")
    assert actor is not None
    assert actor.avatar_name
    assert actor.banner_name
    # Then the files are on disk, re-encoded at their sizes
    avatar_path = file_path(settings.data_dir, actor.avatar_name)
    assert avatar_path is not None
    assert avatar_path.is_file()
    # And her actor document carries them as icon and image
    document = await _actor_doc(client, "camille")
    assert document["icon"] == {
        "type": "Image",
        "mediaType": "image/jpeg",
        "url": f"http://fedicity.test/media/{actor.avatar_name}",
    }
    assert document["image"]["url"].endswith(actor.banner_name)  # type: ignore[index]
    # And her profile page shows them
    page = await (await client.get("/@camille")).get_data(as_text=True)
    assert f'src="http://fedicity.test/media/{actor.avatar_name}"' in page
    assert f'class="banner" src="http://fedicity.test/media/{actor.banner_name}"' in page
    # And the avatar address the other pages use leads to it
    moved = await client.get("/actors/camille/avatar.png")
    assert moved.status_code == 302
    assert moved.headers["Location"].endswith(actor.avatar_name)
    served = await client.get(f"/media/{actor.avatar_name}")
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/jpeg"

    # When she removes both
    response = await client.post(
        "/settings", form=_profile(token, remove_avatar="on", remove_banner="on")
    )
    assert response.status_code == 303
    # Then the generated avatar is back and there is no banner
    document = await _actor_doc(client, "camille")
    assert document["icon"]["url"] == "http://fedicity.test/actors/camille/avatar.png"  # type: ignore[index]
    assert "image" not in document
    assert (await client.get("/actors/camille/avatar.png")).headers["Content-Type"] == "image/png"


async def test_a_refused_form_keeps_what_was_typed_and_says_what_is_wrong_by_each_field(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    await register(pool, keygen, "camille")
    await quart_log_in(client, "camille", "quatre mots sans rapport")
    token = await _settings_token(client)
    typed_bio = "Conseillère de quartier <b>engagée</b>\nDeuxième ligne"
    # When the name is too long, the place unknown, the avatar a page and the banner a bomb
    response = await client.post(
        "/settings",
        form=_profile(
            token, display_name="N" * 101, summary=typed_bio, home_territory="99999", locale="en"
        ),
        files={
            **_upload("avatar", b"<html><script>alert(1)</script></html>", "a.png"),
            **_upload("banner", b"not an image at all", "b.png"),
        },
    )
    # Then nothing is saved, the form comes back as typed, with an error by each field
    assert response.status_code == 422
    page = html.unescape(await response.get_data(as_text=True))
    assert "Rien n'a été enregistré" in page
    assert 'value="' + "N" * 101 + '"' in page
    assert typed_bio.replace("<b>", "<b>") in page
    assert 'value="99999"' in page
    assert '<option value="en" selected>' in page
    for field in ("display_name", "home_territory", "avatar", "banner"):
        assert f'id="{field}-error"' in page, field
        assert f'aria-describedby="{field}-error' in page, field
    assert "Ce fichier contient autre chose qu'une image" in page
    assert "100 caractères" in page
    async with pool.acquire() as conn:
        actor = await actor_queries.select_actor_by_username(conn, "camille")
    assert actor is not None
    assert actor.display_name == ""
    assert actor.avatar_name is None


async def test_a_too_long_bio_is_said_by_its_field_and_kept(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    await register(pool, keygen, "camille")
    await quart_log_in(client, "camille", "quatre mots sans rapport")
    token = await _settings_token(client)
    response = await client.post(
        "/settings", form=_profile(token, display_name="Camille D.", summary="x" * 5001)
    )
    assert response.status_code == 422
    page = await response.get_data(as_text=True)
    assert 'id="summary-error"' in page
    assert 'value="Camille D."' in page
    assert "x" * 5001 in page


async def test_an_image_past_the_upload_cap_is_refused_by_its_field(
    app: Quart, client: TestClientProtocol, pool: Pool, keygen: FixedKeys, settings: Settings
) -> None:
    await register(pool, keygen, "camille")
    await quart_log_in(client, "camille", "quatre mots sans rapport")
    token = await _settings_token(client)
    too_big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (settings.max_upload_bytes + 10)
    response = await client.post(
        "/settings", form=_profile(token), files=_upload("avatar", too_big)
    )
    assert response.status_code == 422
    assert 'id="avatar-error"' in await response.get_data(as_text=True)


async def test_a_profile_change_sends_a_signed_update_to_followers_servers(
    pool: Pool, keygen: FixedKeys, tmp_path: Path
) -> None:
    async with running_peer() as peer, running_instance(pool, tmp_path, keygen) as instance:
        # Given a citizen followed from another server
        await register(pool, keygen, "camille")
        await remote_follower(
            pool, peer, "ana", fixed_keypairs()[-1], instance.urls.actor("camille")
        )
        async with httpx.AsyncClient(base_url=instance.base, timeout=30) as http:
            token = await log_in(http, "camille")
            # When she uploads an avatar and changes her name
            answer = await http.post(
                "/settings",
                data={"csrf_token": token, "display_name": "Camille Dupont", "summary": ""},
                files={"avatar": ("moi.png", picture(500, 500, "PNG"), "image/png")},
            )
            assert answer.status_code == 303, answer.text

        # Then the follower's server receives an Update of her actor, signed with her key
        await eventually(lambda: _has(peer, "Update"), within=20)
        post = next(p for p in peer.posted if json.loads(p.body)["type"] == "Update")
        assert post.path == "/inbox"
        await assert_signed_by(pool, post, peer, "camille")
        update = json.loads(post.body)
        assert update["actor"] == instance.urls.actor("camille")
        assert update["object"]["id"] == instance.urls.actor("camille")
        assert update["object"]["name"] == "Camille Dupont"
        assert update["object"]["icon"]["url"].startswith(instance.base + "/media/")
        # And the icon it names is served
        async with httpx.AsyncClient() as http:
            icon = await http.get(update["object"]["icon"]["url"])
        assert icon.status_code == 200
        assert icon.headers["content-type"] == "image/jpeg"


async def test_saving_an_unchanged_profile_sends_nothing(
    pool: Pool, keygen: FixedKeys, tmp_path: Path
) -> None:
    async with running_peer() as peer, running_instance(pool, tmp_path, keygen) as instance:
        await register(pool, keygen, "camille", display_name="Camille")
        await remote_follower(
            pool, peer, "ana", fixed_keypairs()[-1], instance.urls.actor("camille")
        )
        async with httpx.AsyncClient(base_url=instance.base, timeout=30) as http:
            token = await log_in(http, "camille")
            answer = await http.post(
                "/settings",
                data={
                    "csrf_token": token,
                    "display_name": "Camille",
                    "summary": "",
                    "discoverable": "on",
                    "locale": "en",
                },
            )
            assert answer.status_code == 303
        async with pool.acquire() as conn:
            queued = await conn.fetchval(
                "SELECT count(*) FROM outbox_activities WHERE type = 'Update'"
            )
        assert queued == 0


async def _has(peer: object, kind: str) -> bool:
    return any(json.loads(body).get("type") == kind for _p, body in peer.received)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (png_bomb(20000, 20000), "trop de pixels"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>', "autre chose"),
        (b"%PDF-1.7\n1 0 obj", "PNG, JPEG, GIF ou WebP"),
        (picture(8, 8, "PNG") + b"PK\x03\x04zip", "autre chose"),
    ],
    ids=["png-bomb", "svg", "pdf", "png-zip-polyglot"],
)
async def test_what_is_not_a_plain_picture_is_refused_by_the_avatar_field(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, data: bytes, said: str
) -> None:
    await register(pool, keygen, "camille")
    await quart_log_in(client, "camille", "quatre mots sans rapport")
    token = await _settings_token(client)
    response = await client.post(
        "/settings", form=_profile(token, display_name="Camille D."), files=_upload("avatar", data)
    )
    assert response.status_code == 422
    page = html.unescape(await response.get_data(as_text=True))
    error = page.split('id="avatar-error">', 1)[1].split("</span>", 1)[0]
    assert said in error
    assert 'value="Camille D."' in page


async def test_an_avatar_and_a_banner_of_nearly_the_upload_cap_each_fit_one_form(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys, settings: Settings
) -> None:
    # Two phone photos chosen at once: each may be as large as one upload.
    await register(pool, keygen, "camille")
    await quart_log_in(client, "camille", "quatre mots sans rapport")
    token = await _settings_token(client)
    padding = settings.max_upload_bytes - 200_000
    photo = picture(1200, 900, "JPEG")
    # A JPEG comment segment holds at most 64 KiB: pad with many of them after the header.
    comment = b"\xff\xfe\xff\xff" + b"\x20" * 0xFFFD
    big = photo[:2] + comment * (padding // len(comment)) + photo[2:]
    assert len(big) > settings.max_upload_bytes // 2
    response = await client.post(
        "/settings",
        form=_profile(token),
        files={**_upload("avatar", big, "a.jpg"), **_upload("banner", big, "b.jpg")},
    )
    assert response.status_code == 303, await response.get_data(as_text=True)
