"""The one base of the domain's refusals.

A refusal carries a code, which `fedicity.web.messages` turns into a message in the reader's
language, and a detail in English for logs, tests and the command line. Each domain package
names its own subclass (EventError, ProposalError...) so that callers catch only the refusals
they expect.
"""

from __future__ import annotations


class DomainError(ValueError):
    """An operation was refused: `code` says why (a key of the web layer's message table),
    `detail` says it in English."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code
        self.detail = detail or code
