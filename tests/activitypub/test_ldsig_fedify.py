"""Linked Data signatures with Fedify, an implementation we did not write, both ways.

Fedify (`@fedify/fedify` on npm, with Node 22 from npm: Fedify 2 needs it) is installed on first
use in the test peers' cache (tests/interop/peers.py) and runs
tests/fixtures/ldsig/fedify_vector.mjs:
its `signJsonLd` signs a reply we then verify, and its `verifyJsonLd` checks what we signed.
"""

from __future__ import annotations

import copy
import json
import subprocess
from typing import Any

from fedicity.activitypub import ldsig
from fedicity.activitypub.keys import load_private_key, load_public_key
from tests.conftest import fixed_keypairs
from tests.interop.peers import fedify_script

LOADER = ldsig.offline_loader()


def _fedify(mode: str, stdin: str = "") -> str:
    script = fedify_script()
    done = subprocess.run(
        [str(script.parent / "node_modules" / ".bin" / "node"), str(script), mode],
        cwd=script.parent,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _reason(result: ldsig.LdSignature | ldsig.LdFailure) -> str:
    assert isinstance(result, ldsig.LdFailure), result
    return result.reason.value


def test_a_reply_fedify_signs_now_verifies_here() -> None:
    # Given a reply Fedify's signJsonLd signs in this run, with a key it makes
    made = json.loads(_fedify("make"))
    document: dict[str, Any] = made["document"]
    key = load_public_key(made["publicKeyPem"])
    assert document["signature"]["type"] == "RsaSignature2017"
    # Then it verifies here, and the same reply altered after signing does not
    assert isinstance(ldsig.verify(document, key, loader=LOADER), ldsig.LdSignature)
    tampered = copy.deepcopy(document)
    tampered["object"]["content"] = "<p>altered</p>"
    assert _reason(ldsig.verify(tampered, key, loader=LOADER)) == "ld_bad_signature"


def test_what_we_sign_fedify_verifies() -> None:
    # Given a Create we sign, as the author's server would before others forward it
    keys = fixed_keypairs()[0]
    document = json.loads(_fedify("make"))["document"]
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    signed = ldsig.sign(
        unsigned,
        load_private_key(keys.private_pem),
        creator=unsigned["actor"] + "#main-key",
        created="2026-12-05T20:00:00Z",
        loader=LOADER,
    )
    assert isinstance(signed, dict)
    # Then Fedify's verifyJsonLd accepts it (with the key the actor publishes), and refuses an
    # altered copy
    ours = {"publicKeyPem": keys.public_pem, "document": signed}
    assert json.loads(_fedify("verify", json.dumps(ours))) is True
    altered = copy.deepcopy(signed)
    altered["object"]["content"] = "<p>altered</p>"
    assert json.loads(_fedify("verify", json.dumps({**ours, "document": altered}))) is False
