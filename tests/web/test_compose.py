"""The compose form on the feed: a reply names whom it answers, and a refused post comes back
with what was typed and the reason beside its field."""

from __future__ import annotations

from quart.typing import TestClientProtocol

from fedicity.clock import FrozenClock
from fedicity.db.pool import Pool
from tests.conftest import FixedKeys
from tests.web.test_social_feedback import citizen, log_in, page, write


async def test_a_reply_names_the_author_it_answers_not_an_id(
    client: TestClientProtocol, pool: Pool, clock: FrozenClock, keygen: FixedKeys
) -> None:
    # Given Camille's post
    camille = await citizen(pool, keygen, "camille", "Camille Martin")
    await citizen(pool, keygen, "dominique", "Dominique Petit")
    post = await write(pool, clock, camille, "Qui vient au marché <samedi> ?")
    # When Dominique chooses to answer it
    await log_in(client, "dominique")
    html = await page(client, f"/home?reply_to={post.uri}")
    # Then the form says whom she answers, by name, and quotes the post, escaped
    assert "Replying to" in html
    assert "Camille Martin" in html
    assert "Qui vient au marché &lt;samedi&gt; ?" in html
    assert f"Replying to {post.uri}" not in html
    assert f'name="in_reply_to" value="{post.uri}"' in html
    # And a reply to something unknown is a plain post form, not an error
    assert 'name="in_reply_to"' not in await page(client, "/home?reply_to=javascript:alert(1)")


async def test_an_empty_post_comes_back_with_its_warning_and_the_reason_by_the_text(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a logged-in citizen
    await citizen(pool, keygen, "dominique", "Dominique Petit")
    token = await log_in(client, "dominique")
    # When she publishes a content warning with blank text, followers only
    response = await client.post(
        "/notes",
        form={
            "csrf_token": token,
            "summary": "Travaux rue de Paris",
            "text": "   ",
            "visibility": "followers",
        },
    )
    # Then the form comes back, kept, with the reason by the text field
    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert 'value="Travaux rue de Paris"' in html
    assert '<span class="field-error" id="text-error">' in html
    assert 'aria-invalid="true" aria-describedby="text-error"' in html
    assert '<option value="followers" selected>' in html


async def test_a_refused_organisation_keeps_what_was_typed_and_names_kinds_in_words(
    client: TestClientProtocol, pool: Pool, keygen: FixedKeys
) -> None:
    # Given a citizen, and an organisation already named `velo`
    await citizen(pool, keygen, "dominique", "Dominique Petit")
    token = await log_in(client, "dominique")
    form = {
        "csrf_token": token,
        "username": "velo",
        "display_name": "Vélo Montreuil",
        "kind": "local_government",
        "membership_mode": "invitation",
        "summary": "Atelier <b>réparation</b>",
    }
    assert (await client.post("/organizations", form=form)).status_code == 303
    # When she creates another with the same username
    response = await client.post("/organizations", form=form)
    # Then the form comes back with everything she typed and the reason by the username
    assert response.status_code == 422
    html = await response.get_data(as_text=True)
    assert 'value="velo"' in html
    assert '<span class="field-error" id="username-error">' in html
    assert 'value="Vélo Montreuil"' in html
    assert "Atelier &lt;b&gt;réparation&lt;/b&gt;</textarea>" in html
    assert '<option value="local_government" selected>Local government</option>' in html
    assert '<option value="invitation" selected>By invitation only</option>' in html
    # And no code is shown as a word
    assert ">local_government<" not in html
    assert ">approval<" not in html
