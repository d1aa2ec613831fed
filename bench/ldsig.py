"""What a Linked Data signature check costs: pyld's URDNA2015 on recorded Mastodon activities.

    .venv/bin/python -m bench.ldsig            # --rounds 200

Times, in this process, the CPU per document of the whole `ldsig.verify` (two URDNA2015
normalisations, two SHA-256, one RSA verification), of the RSA verification alone and of
`signature_of` (all the inbox does). The documents: a Create(Note) recorded from mastodon.social
with its real signature, a reply signed by Fedify (both in tests/fixtures/ldsig) and the
recorded payload tests/fixtures/inbound/mastodon_create_note_1.json. Figures
are printed, never asserted: they decided that the check runs in the worker, not in the inbox
POST (whose whole budget is about 1.5 ms).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fedicity.activitypub import ldsig
from fedicity.activitypub.keys import load_public_key

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ldsig"


def _cpu_ms(rounds: int, work: Any) -> float:
    start = time.process_time()
    for _ in range(rounds):
        work()
    return (time.process_time() - start) / rounds * 1000


def main() -> None:
    """Print the CPU milliseconds of each step per document."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    loader = ldsig.offline_loader()
    actor = json.loads((FIXTURES / "mastodon_actor.json").read_text())
    mastodon_key = load_public_key(actor["publicKey"]["publicKeyPem"])
    fedify = json.loads((FIXTURES / "fedify_signed_create.json").read_text())
    mastodon = json.loads((FIXTURES / "mastodon_signed_create.json").read_text())
    # Pleroma's recording of a Mastodon Create: its signer's key is not recorded, so it fails at
    # the last step, after the same JSON-LD work.
    recorded = json.loads((FIXTURES.parent / "inbound" / "mastodon_create_note_1.json").read_text())
    cases = [
        ("mastodon.social Create(Note)", mastodon, mastodon_key),
        ("Fedify Create(Note) reply", fedify["document"], load_public_key(fedify["publicKeyPem"])),
        ("mastodon_create_note_1 (no key)", recorded, mastodon_key),
    ]
    # The first check in a process also reads and processes the contexts (pyld caches them).
    start = time.process_time()
    for name, document, key in cases:
        result = ldsig.verify(document, key, loader=loader)
        assert "no key" in name or not isinstance(result, ldsig.LdFailure), result
    cold_ms = (time.process_time() - start) * 1000
    print(f"first two checks in this process (contexts cold): {cold_ms:.1f} ms")
    print(f"rounds {args.rounds}; CPU ms per document, contexts cached")
    for name, document, key in cases:
        assert isinstance(key, rsa.RSAPublicKey)
        whole = _cpu_ms(args.rounds, lambda d=document, k=key: ldsig.verify(d, k, loader=loader))
        signature = ldsig.signature_of(document)
        assert isinstance(signature, ldsig.LdSignature)

        def rsa_only(k: rsa.RSAPublicKey = key, s: bytes = signature.signature_value) -> None:
            # A wrong message costs the same modular exponentiation as the right one.
            with contextlib.suppress(InvalidSignature):
                k.verify(s, b"0" * 128, padding.PKCS1v15(), hashes.SHA256())

        rsa_ms = _cpu_ms(args.rounds, rsa_only)
        parse_ms = _cpu_ms(args.rounds, lambda d=document: ldsig.signature_of(d))
        print(
            f"{name:32} verify {whole:7.3f}  signature_of {parse_ms:6.3f}  "
            f"RSA alone {rsa_ms:6.3f}  JSON-LD share {(whole - rsa_ms) / whole:5.1%}"
        )


if __name__ == "__main__":
    main()
