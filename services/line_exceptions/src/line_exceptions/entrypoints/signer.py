"""The caller as signer of an e-signature, re-authenticated by the credential given again."""

from __future__ import annotations

from fastapi import Request
from serialtrail_kit.access.authenticate import SIGNS, Authenticator

from line_exceptions.application.handlers import Signer
from line_exceptions.entrypoints.schemas import SignatureIn

__all__ = ["SIGNS", "signer_of"]


async def signer_of(request: Request, signature: SignatureIn | None) -> Signer | None:
    if signature is None:
        return None
    authenticator: Authenticator = request.app.state.authenticator
    await authenticator.reauthenticate(
        request, signature.credential, request.state.principal, "body.signature.credential"
    )
    return Signer(request.state.principal, signature.meaning)
