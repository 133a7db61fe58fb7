"""What aggregation's routes require, and which roles hold it (an admin holds all)."""

from __future__ import annotations

from serialtrail_contracts.identity import Role
from serialtrail_kit.access.permissions import permission

PACK = permission("aggregation:pack", Role.cmo, Role.line, description="pack, unpack and close parents")
READ = permission("aggregation:read", Role.qa, Role.auditor, Role.cmo, Role.line, description="read trees and reports")

ALL = (PACK, READ)
