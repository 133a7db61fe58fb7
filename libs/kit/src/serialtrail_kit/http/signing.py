"""An e-signature in a request: the body part that carries it (a meaning, the credential given
again), and the caller as its signer once re-authenticated by that credential. Every route that
records a signed decision reads it the same way (`signer_of`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Request
from pydantic import Field

from serialtrail_kit.access.authenticate import SIGNS, Authenticator
from serialtrail_kit.access.signatures import Meaning, Signer
from serialtrail_kit.http.body import Body

__all__ = ["SIGNS", "SignatureIn", "Signer", "signer_of"]


class SignatureIn(Body):
    meaning: Meaning = Meaning.approved
    credential: Annotated[str, Field(min_length=1, description="re-authentication at signing time")]


async def signer_of(request: Request, signature: SignatureIn | None) -> Signer | None:
    """The caller, re-authenticated by the signature's credential (403 otherwise); None: unsigned."""
    if signature is None:
        return None
    authenticator: Authenticator = request.app.state.authenticator
    await authenticator.reauthenticate(
        request, signature.credential, request.state.principal, "body.signature.credential"
    )
    return Signer(request.state.principal, signature.meaning)
