"""Topic names: one per service, versioned; created explicitly, never auto-created."""

SERIALS = "serialtrail.serials.v1"
AGGREGATION = "serialtrail.aggregation.v1"
EXCEPTIONS = "serialtrail.exceptions.v1"
REPORTING = "serialtrail.reporting.v1"
FMD = "serialtrail.fmd.v1"
IDENTITY = "serialtrail.identity.v1"

ALL = (IDENTITY, SERIALS, AGGREGATION, EXCEPTIONS, REPORTING, FMD)

# Which service publishes which topic (its log, relayed).
BY_SERVICE = {
    "identity": IDENTITY,
    "serial_issuance": SERIALS,
    "aggregation": AGGREGATION,
    "line_exceptions": EXCEPTIONS,
    "epcis_reporting": REPORTING,
    "fmd_hub": FMD,
}
