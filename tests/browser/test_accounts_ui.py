"""The account pages as a citizen uses them, in Chromium on a phone and on a desktop: an avatar
uploaded from the settings page shows on the profile; a forgotten password is reset through the
link a real SMTP server on loopback received, and the new password logs in."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from playwright.async_api import Browser, FilePayload, Page, ViewportSize

from fedicity.db.pool import Pool
from tests.accounts.helpers import PASSWORD, picture, register
from tests.accounts.test_password_reset import Inbox
from tests.browser.conftest import DESKTOP, PHONE
from tests.conftest import FixedKeys
from tests.flows.harness import free_port, running_instance

NEW_PASSWORD = "trois pommes sur la table"
_LINK = re.compile(r"https?://\S+/password/reset/\S+")
VIEWPORTS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 in place of the console mailer."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("FEDICITY_SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def _log_in(page: Page, login: str, password: str) -> None:
    await page.goto("/login")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", password)
    async with page.expect_navigation():
        await page.click("main form button[type=submit]")


async def _fits(page: Page, viewport: ViewportSize) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"{page.url} is {width} px wide"


@VIEWPORTS
async def test_an_uploaded_avatar_shows_on_the_profile(
    viewport: ViewportSize, browser: Browser, pool: Pool, keygen: FixedKeys, tmp_path: Path
) -> None:
    await register(pool, keygen, "camille", display_name="Camille Martin")
    kind = "phone" if viewport is PHONE else "desktop"
    async with running_instance(pool, tmp_path / "site", keygen) as instance:
        context = await browser.new_context(
            base_url=instance.base, viewport=viewport, locale="fr-FR"
        )
        try:
            page = await context.new_page()
            await _log_in(page, "camille", PASSWORD)
            # Given the settings page
            await page.goto("/settings")
            # When she chooses a picture and a banner, writes a bio and saves
            await page.set_input_files(
                "input[name=avatar]",
                files=[
                    FilePayload(
                        name="moi.png",
                        mimeType="image/png",
                        buffer=picture(240, 240, "PNG", (200, 60, 40)),
                    )
                ],
            )
            await page.set_input_files(
                "input[name=banner]",
                files=[
                    FilePayload(
                        name="quartier.jpg",
                        mimeType="image/jpeg",
                        buffer=picture(1800, 700, "JPEG", (40, 110, 160)),
                    )
                ],
            )
            await page.fill("textarea[name=summary]", "Jardinière à la Croix-de-Chavaux.")
            async with page.expect_navigation():
                await page.click("#profile button[type=submit]")
            # Then the page says it is saved and shows her avatar
            assert await page.locator(".notice").inner_text() == "Enregistré."
            settings_avatar = page.locator(".picture-field img.avatar")
            assert "/media/" in (await settings_avatar.get_attribute("src") or "")
            await _fits(page, viewport)
            await page.screenshot(
                path=str(_shots(tmp_path) / f"settings-{kind}.png"), full_page=True
            )
            # And her profile shows the picture she chose, loaded
            await page.goto("/@camille")
            avatar = page.locator("article.profile img.avatar")
            src = await avatar.get_attribute("src") or ""
            # An opaque picture is re-encoded as a JPEG
            assert src.startswith(instance.base + "/media/")
            assert src.endswith(".jpg")
            await page.wait_for_function(
                "() => { const i = document.querySelector('article.profile img.avatar');"
                " return i && i.complete && i.naturalWidth === 240; }"
            )
            assert await page.locator("article.profile img.banner").count() == 1
            await _fits(page, viewport)
            await page.screenshot(
                path=str(_shots(tmp_path) / f"profile-{kind}.png"), full_page=True
            )

            # And a form with an error keeps what she typed, with the error by the field
            await page.goto("/settings")
            await page.fill("input[name=display_name]", "Camille M.")
            await page.fill("input[name=home_territory]", "nulle part")
            async with page.expect_navigation():
                await page.click("#profile button[type=submit]")
            assert await page.input_value("input[name=display_name]") == "Camille M."
            assert await page.input_value("input[name=home_territory]") == "nulle part"
            error = page.locator("#home_territory-error")
            assert "pas desservi" in await error.inner_text()
            await page.screenshot(
                path=str(_shots(tmp_path) / f"settings-error-{kind}.png"), full_page=True
            )
        finally:
            await context.close()


@VIEWPORTS
async def test_forgot_password_then_reset_then_log_in(
    viewport: ViewportSize,
    browser: Browser,
    pool: Pool,
    keygen: FixedKeys,
    tmp_path: Path,
    smtp: tuple[Inbox, int],
) -> None:
    inbox, port = smtp
    await register(pool, keygen, "camille")
    async with running_instance(
        pool,
        tmp_path / "site",
        keygen,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
    ) as instance:
        context = await browser.new_context(
            base_url=instance.base, viewport=viewport, locale="fr-FR"
        )
        try:
            page = await context.new_page()
            # Given the login page, she follows "Forgot your password?"
            await page.goto("/login")
            async with page.expect_navigation():
                await page.click('a[href="/password/forgot"]')
            await page.fill("input[name=email]", "camille@example.org")
            async with page.expect_navigation():
                await page.click("main form button[type=submit]")
            assert "un message lui est envoyé" in await page.locator(".notice").inner_text()
            await _fits(page, viewport)
            # Then the mail server on loopback receives the link
            for _ in range(400):
                if inbox.messages:
                    break
                await asyncio.sleep(0.025)
            assert inbox.messages, "no message reached the SMTP server"
            body = inbox.messages[0].get_body(("plain",))
            assert body is not None
            found = _LINK.search(body.get_content())
            assert found is not None
            # When she opens it and chooses a new password
            await page.goto(found.group(0))
            await _fits(page, viewport)
            await page.fill("input[name=password]", NEW_PASSWORD)
            await page.fill("input[name=password_confirm]", NEW_PASSWORD)
            async with page.expect_navigation():
                await page.click("main form button[type=submit]")
            # Then she is on her feed, logged in
            assert page.url.endswith("/home")
            # And after logging out, the new password logs her in
            await context.clear_cookies()
            await _log_in(page, "camille", NEW_PASSWORD)
            assert "/login" not in page.url
            # And the link no longer works: a clear page
            response = await page.goto(found.group(0))
            assert response is not None
            assert response.status == 410
            assert "Ce lien ne fonctionne plus" in await page.locator("h1").inner_text()
        finally:
            await context.close()
