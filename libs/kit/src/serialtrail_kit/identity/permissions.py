"""Permissions of the identity routes (keys, the access audit, signatures)."""

from __future__ import annotations

from serialtrail_contracts.identity import Role

from serialtrail_kit.access.permissions import permission

IDENTITY_ADMIN = permission("identity:admin", description="create, list and revoke API keys")
ACCESS_AUDIT_READ = permission("access-audit:read", Role.auditor, description="read refused requests")
SIGN = permission("records:sign", Role.qa, description="sign a record electronically")
SIGNATURES_READ = permission("signatures:read", Role.qa, Role.auditor, description="read signatures")

ALL = (IDENTITY_ADMIN, ACCESS_AUDIT_READ, SIGN, SIGNATURES_READ)
