"""What serial issuance's routes require, and which roles hold it (an admin holds all)."""

from __future__ import annotations

from serialtrail_contracts.identity import Role
from serialtrail_kit.access.permissions import permission

_READERS = (Role.qa, Role.auditor, Role.cmo, Role.line)

MASTER_DATA_READ = permission("master-data:read", *_READERS, description="read products and batches")
MASTER_DATA_WRITE = permission("master-data:write", description="register products")
BATCHES_WRITE = permission("batches:write", Role.cmo, description="register batches")
SERIALS_READ = permission("serials:read", *_READERS, description="read serials, requests and counts")
SERIALS_REQUEST = permission("serials:request", Role.cmo, description="request serials from a pool")
SERIALS_IMPORT = permission("serials:import", Role.cmo, description="import a list of serials")
SERIALS_COMMISSION = permission("serials:commission", Role.cmo, Role.line, description="commission serials")
SSCC_REQUEST = permission("sscc:request", Role.cmo, description="request SSCC ranges")

ALL = (
    MASTER_DATA_READ,
    MASTER_DATA_WRITE,
    BATCHES_WRITE,
    SERIALS_READ,
    SERIALS_REQUEST,
    SERIALS_IMPORT,
    SERIALS_COMMISSION,
    SSCC_REQUEST,
)
