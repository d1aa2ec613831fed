"""Linked Data signatures (RsaSignature2017) against what other implementations made."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from fedicity.activitypub import ldsig
from fedicity.activitypub.keys import load_private_key, load_public_key
from tests.conftest import fixed_keypairs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LDSIG = FIXTURES / "ldsig"
LOADER = ldsig.offline_loader()


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _other_key() -> Any:
    """A key that signed none of the documents here."""
    return load_public_key(fixed_keypairs()[1].public_pem)


def _reason(result: ldsig.LdSignature | ldsig.LdFailure) -> str:
    assert isinstance(result, ldsig.LdFailure), result
    return result.reason.value


def _signed(document: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    keys = fixed_keypairs()[0]
    signed = ldsig.sign(
        document,
        load_private_key(keys.private_pem),
        creator="https://origin.example/users/author#main-key",
        created="2026-12-05T20:00:00Z",
        loader=LOADER,
    )
    assert isinstance(signed, dict), signed
    return signed, load_public_key(keys.public_pem)


def _note(content: str = "<p>hello</p>", **extra: Any) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": "https://origin.example/users/author/statuses/1/activity",
        "type": "Create",
        "actor": "https://origin.example/users/author",
        "object": {
            "id": "https://origin.example/users/author/statuses/1",
            "type": "Note",
            "attributedTo": "https://origin.example/users/author",
            "content": content,
            **extra,
        },
    }


def test_a_reply_signed_by_fedify_verifies_and_its_tampered_copy_does_not() -> None:
    # Given a reply Fedify's signJsonLd signed (tests/fixtures/ldsig/fedify_vector.mjs made it)
    vector = _json(LDSIG / "fedify_signed_create.json")
    key = load_public_key(vector["publicKeyPem"])
    # Then it verifies here
    result = ldsig.verify(vector["document"], key, loader=LOADER)
    assert isinstance(result, ldsig.LdSignature), result
    # And a copy whose content a relayer changed does not
    tampered = copy.deepcopy(vector["document"])
    tampered["object"]["content"] = "<p>words the author never wrote</p>"
    assert _reason(ldsig.verify(tampered, key, loader=LOADER)) == "ld_bad_signature"


def test_the_recorded_mastodon_create_of_the_payload_set_is_read_but_its_key_is_not_recorded() -> (
    None
):
    # mastodon_create_note_1 (Pleroma's fixture) carries an RsaSignature2017, but no recorded
    # actor document holds its key: the signature parses and, with another key, fails cleanly.
    document = _json(FIXTURES / "inbound" / "mastodon_create_note_1.json")
    parsed = ldsig.signature_of(document)
    assert isinstance(parsed, ldsig.LdSignature)
    assert parsed.creator == "http://mastodon.example.org/users/admin#main-key"
    assert _reason(ldsig.verify(document, _other_key(), loader=LOADER)) == "ld_bad_signature"


def test_what_we_sign_verifies_and_is_what_mastodon_would_check() -> None:
    signed, public_key = _signed(_note())
    assert signed["signature"]["type"] == "RsaSignature2017"
    assert isinstance(ldsig.verify(signed, public_key, loader=LOADER), ldsig.LdSignature)
    # Re-signing replaces the signature rather than signing it
    again, _ = _signed(signed)
    assert isinstance(ldsig.verify(again, public_key, loader=LOADER), ldsig.LdSignature)


def test_a_context_we_do_not_bundle_fails_with_a_reason_and_is_never_fetched() -> None:
    document = _note()
    document["@context"] = [*document["@context"], "https://unknown.example/ns/v9"]
    _, public_key = _signed(_note())
    signed = {**document, "signature": _signed(_note())[0]["signature"]}
    result = ldsig.verify(signed, public_key, loader=LOADER)
    assert _reason(result) == "ld_unknown_context"
    assert isinstance(result, ldsig.LdFailure)
    assert "unknown.example" in result.detail


_RSA = "RsaSignature2017"
_CREATOR = "https://o.example/a#k"


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (None, "ld_no_signature"),
        (_RSA, "ld_malformed_signature"),
        ({"type": "Ed25519Signature2018"}, "ld_unsupported_type"),
        ({"type": _RSA, "creator": "acct:a@b", "signatureValue": "AA=="}, "ld_malformed_signature"),
        ({"type": _RSA, "creator": _CREATOR}, "ld_malformed_signature"),
        # Options beyond plain values would be normalised without the document's bounds
        (
            {"type": _RSA, "creator": _CREATOR, "signatureValue": "AA==", "nonce": ["x"] * 999},
            "ld_malformed_signature",
        ),
        # Pleroma's mastodon-delete.json: '$' is not base64
        ({"type": _RSA, "creator": _CREATOR, "signatureValue": "ab$c"}, "ld_bad_signature_value"),
    ],
)
def test_a_malformed_signature_is_a_reason(signature: Any, reason: str) -> None:
    document: dict[str, Any] = _note()
    if signature is not None:
        document["signature"] = signature
    _, public_key = _signed(_note())
    assert _reason(ldsig.verify(document, public_key, loader=LOADER)) == reason


def test_a_key_that_is_not_rsa_is_a_reason() -> None:
    signed, _ = _signed(_note())
    other = ed25519.Ed25519PrivateKey.generate().public_key()
    assert _reason(ldsig.verify(signed, other, loader=LOADER)) == "ld_key_type_mismatch"


def test_another_key_than_the_signers_fails() -> None:
    signed, _ = _signed(_note())
    assert _reason(ldsig.verify(signed, _other_key(), loader=LOADER)) == "ld_bad_signature"


def test_a_huge_document_is_refused_before_any_json_ld_work() -> None:
    signed, public_key = _signed(_note())
    signed["object"]["tag"] = [f"https://o.example/t/{i}" for i in range(ldsig.MAX_VALUES)]
    assert _reason(ldsig.verify(signed, public_key, loader=LOADER)) == "ld_too_large"


def test_values_meeting_under_one_property_through_aliases_are_refused() -> None:
    # Ten names for as:tag, each with 50 values: 500 values pyld would compare pairwise
    signed, public_key = _signed(_note())
    aliases = {f"t{i}": {"@id": "as:tag", "@type": "@id"} for i in range(10)}
    signed["@context"] = [*signed["@context"], aliases]
    for i in range(10):
        signed["object"][f"t{i}"] = [f"https://o.example/t/{i}/{j}" for j in range(50)]
    result = ldsig.verify(signed, public_key, loader=LOADER)
    assert _reason(result) == "ld_too_large"
    assert isinstance(result, ldsig.LdFailure)
    assert "activitystreams#tag" in result.detail


def test_many_look_alike_blank_nodes_are_refused() -> None:
    # Identical anonymous objects are what makes URDNA2015 compare permutations.
    signed, public_key = _signed(_note())
    signed["object"]["tag"] = [{"type": "Mention"} for _ in range(ldsig.MAX_BLANK_NODES + 1)]
    assert _reason(ldsig.verify(signed, public_key, loader=LOADER)) == "ld_too_large"


def test_a_deeply_nested_document_is_refused() -> None:
    signed, public_key = _signed(_note())
    nested: dict[str, Any] = {"type": "Note"}
    for _ in range(ldsig.MAX_DEPTH):
        nested = {"type": "Note", "inReplyTo": nested}
    signed["object"]["inReplyTo"] = nested
    assert _reason(ldsig.verify(signed, public_key, loader=LOADER)) == "ld_too_deep"


def test_blank_node_labels_are_refused() -> None:
    signed, public_key = _signed(_note())
    signed["object"]["tag"] = [{"id": "_:b0", "type": "Mention", "href": {"id": "_:b0"}}]
    assert _reason(ldsig.verify(signed, public_key, loader=LOADER)) == "ld_blank_node_labels"


def test_a_document_that_is_not_json_ld_is_a_reason() -> None:
    signed, public_key = _signed(_note())
    signed["@context"] = 5
    assert _reason(ldsig.verify(signed, public_key, loader=LOADER)) == "ld_not_json_ld"


def test_a_nul_character_is_signed_and_checked_like_any_other() -> None:
    # Our JSON loader refuses \u0000 at the inbox; built in memory, it still gives a value.
    signed, public_key = _signed(_note("<p>a\u0000b</p>"))
    assert isinstance(ldsig.verify(signed, public_key, loader=LOADER), ldsig.LdSignature)
    signed["object"]["content"] = "<p>ab</p>"
    assert _reason(ldsig.verify(signed, public_key, loader=LOADER)) == "ld_bad_signature"


def test_a_context_term_with_a_context_of_its_own_is_refused() -> None:
    # A scoped context is processed again for every node that uses its term: 2,000 terms under
    # one property of 100 nodes cost pyld 200,000 term definitions (seconds) in 70 kB
    signed, public_key = _signed(_note())
    scoped = {f"s{i}": f"https://o.example/s{i}" for i in range(2000)}
    signed["@context"] = [
        *signed["@context"],
        {"w": {"@id": "https://o.example/w", "@context": scoped}},
    ]
    signed["object"]["w"] = [{"id": f"https://o.example/n{j}", "s1": "v"} for j in range(100)]
    result = ldsig.verify(signed, public_key, loader=LOADER)
    assert _reason(result) == "ld_too_large"


def test_an_inline_context_counts_against_the_size_bound() -> None:
    signed, public_key = _signed(_note())
    terms = {f"t{i}": f"https://o.example/t{i}" for i in range(ldsig.MAX_VALUES)}
    signed["@context"] = [*signed["@context"], terms]
    assert _reason(ldsig.verify(signed, public_key, loader=LOADER)) == "ld_too_large"


def test_a_mastodon_shaped_inline_context_still_verifies() -> None:
    # The terms Mastodon writes inline, object-valued ones included: within every bound
    signed, public_key = _signed(
        {
            **_note(),
            "@context": [
                "https://www.w3.org/ns/activitystreams",
                "https://w3id.org/security/v1",
                {
                    "ostatus": "http://ostatus.org#",
                    "atomUri": "ostatus:atomUri",
                    "sensitive": "as:sensitive",
                    "toot": "http://joinmastodon.org/ns#",
                    "Emoji": "toot:Emoji",
                    "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
                    "votersCount": "toot:votersCount",
                },
            ],
        }
    )
    assert isinstance(ldsig.verify(signed, public_key, loader=LOADER), ldsig.LdSignature)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        # Terms no context of the document defines: JSON-LD maps them to blank nodes, which
        # the signed N-Quads leave out, so a relayer could add or change them at will
        ("sensitive", True),
        ("quoteUrl", "https://relayer.example/notes/1"),
        ("joinMode", "invite"),
    ],
)
def test_a_term_the_signature_does_not_cover_is_refused(key: str, value: Any) -> None:
    signed, public_key = _signed(_note())
    # When a relayer adds what the signature does not cover
    signed["object"][key] = value
    # Then the copy is not vouched for (the worker fetches the object from its origin)
    assert _reason(ldsig.verify(signed, public_key, loader=LOADER)) == "ld_unsigned_terms"


def test_a_type_the_signature_does_not_cover_is_refused() -> None:
    # An undefined type becomes a blank node, renamed by normalisation: any other undefined
    # type would verify as well
    document = _note()
    document["object"]["type"] = "Unknown"
    signed, public_key = _signed(document)
    assert _reason(ldsig.verify(signed, public_key, loader=LOADER)) == "ld_unsigned_terms"
