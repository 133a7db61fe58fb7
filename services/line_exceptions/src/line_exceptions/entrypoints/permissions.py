"""What line exceptions' routes require, and which roles hold it (an admin holds all)."""

from __future__ import annotations

from serialtrail_contracts.identity import Role
from serialtrail_kit.access.permissions import permission

RECORD = permission(
    "exceptions:record", Role.qa, Role.cmo, Role.line, description="record what went wrong with units on a line"
)
REVIEW = permission(
    "exceptions:review", Role.qa, description="investigate, resolve (signing where units left) and cancel records"
)
READ = permission("exceptions:read", Role.qa, Role.auditor, Role.cmo, Role.line, description="read exception records")

ALL = (RECORD, REVIEW, READ)
