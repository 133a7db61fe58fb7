"""What the EU FMD hub service's routes require, and which roles hold it (an admin holds all)."""

from __future__ import annotations

from serialtrail_contracts.identity import Role
from serialtrail_kit.access.permissions import permission

MANAGE = permission(
    "fmd:manage", Role.qa, description="send products' master data and batches' pack data to the EU FMD hub"
)
READ = permission(
    "fmd:read", Role.qa, Role.auditor, Role.cmo, description="read what the EU FMD hub was sent and answered"
)

ALL = (MANAGE, READ)
