"""Topic names: one per service, versioned; created explicitly, never auto-created."""

SERIALS = "serialtrail.serials.v1"
AGGREGATION = "serialtrail.aggregation.v1"
EXCEPTIONS = "serialtrail.exceptions.v1"
REPORTING = "serialtrail.reporting.v1"
FMD = "serialtrail.fmd.v1"

ALL = (SERIALS, AGGREGATION, EXCEPTIONS, REPORTING, FMD)
