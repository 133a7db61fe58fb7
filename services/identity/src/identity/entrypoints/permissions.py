"""What identity's routes require, and which roles hold it (an admin holds all)."""

from __future__ import annotations

from serialtrail_contracts.identity import Role
from serialtrail_kit.access.permissions import permission

IDENTITY_ADMIN = permission("identity:admin", description="create, list and revoke API keys")
ACCESS_AUDIT_READ = permission("access-audit:read", Role.auditor, description="read refused requests")

ALL = (IDENTITY_ADMIN, ACCESS_AUDIT_READ)
