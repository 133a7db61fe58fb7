"""What EPCIS reporting's routes require, and which roles hold it (an admin holds all)."""

from __future__ import annotations

from serialtrail_contracts.identity import Role
from serialtrail_kit.access.permissions import permission

CAPTURE = permission(
    "epcis:capture", Role.qa, Role.cmo, Role.line, description="capture EPCIS documents of what a line or CMO did"
)
JOBS = permission(
    "epcis:jobs", Role.qa, Role.auditor, Role.cmo, Role.line, description="read capture jobs (a narrowed key: its own)"
)

READ = permission(
    "epcis:read",
    Role.qa,
    Role.auditor,
    Role.cmo,
    Role.line,
    Role.partner,
    description="query captured EPCIS events (a narrowed key: its own party's; a partner: of batches granted to it)",
)
GRANT = permission(
    "epcis:grant", Role.qa, description="grant and revoke a trading partner's reads of a batch's captured events"
)
GRANTS = permission(
    "epcis:grants",
    Role.qa,
    Role.auditor,
    Role.partner,
    description="read partners' grants (a partner: its own; a narrowed key: its products')",
)

ALL = (CAPTURE, JOBS, READ, GRANT, GRANTS)
