"""The rules serial issuance refuses requests by, each named once. Clients match on the names;
the OpenAPI document shows each rule, with the example here, on every operation that can
break it. GS1's own rules (GTIN, GLN, scans) are `serialtrail_gs1.rules`; "exists" and
"not-in-future" are the kit's."""

from __future__ import annotations

from serialtrail_kit.errors import Rule

# Master data: registered once, then referred to.
UNIQUE = Rule(
    "unique",
    "master data (a product, batch, site or line) is registered once; registering it again needs the same data",
    "gtin",
    "already registered",
)
REGISTERED_PRODUCT = Rule(
    "registered-product",
    "the GTIN named is a registered product's",
    "gtin",
    "no product is registered with GTIN 09506000134352",
)
REGISTERED_BATCH = Rule(
    "registered-batch",
    "the lot named is a registered batch of the GTIN",
    "lot",
    "no batch 'L2026A' is registered for GTIN 09506000134352",
)
REGISTERED_SITE = Rule(
    "registered-site", "the GLN named is a registered site's", "gln", "no site is registered with GLN 9506000000008"
)
REGISTERED_LINE = Rule(
    "registered-line",
    "the line named, by its id or its read point's SGLN, is registered",
    "line_id",
    "no line is registered as 'LINE-9' (give a registered line id or its read point's SGLN)",
)

# Products.
SERIAL_RANDOMISATION = Rule(
    "serial-randomisation",
    "a product's serial format leaves at least a million possible serials, so they can be randomised",
    "serial_length",
    "a 4-character numeric serial leaves too few possible serials to randomise (at least 6 characters are needed)",
)
NDC_IN_GTIN = Rule(
    "ndc-in-gtin",
    "an NDC is 10 digits and appears in the GTIN",
    "ndc",
    "an NDC must be 10 digits and appear in the GTIN (GS1 US: GTIN = 0 + 03 + NDC + check)",
)

# Batches.
AFTER_MANUFACTURE = Rule(
    "after-manufacture",
    "a batch expires after the day it is registered (made)",
    "expiry",
    "expiry 2026-01-31 is not after the batch's manufacture (registered on 2026-03-02)",
)
WITHIN_SHELF_LIFE = Rule(
    "within-shelf-life",
    "a batch expires within the longest shelf life allowed, counted from its registration",
    "expiry",
    "expiry 2099-12-31 is beyond the longest shelf life (3650 days: 2036-02-28 at the latest)",
)
MADE_BY_SITES_CMO = Rule(
    "made-by-sites-cmo",
    "a batch made at a site registered as a CMO's is that CMO's batch",
    "cmo_id",
    "site 9506000000015 is operated by CMO ACME: a batch made there names cmo_id ACME",
)
MADE_ON_CMOS_LINE = Rule(
    "made-on-cmos-line",
    "a line registered as a CMO's commissions that CMO's batches only",
    "lot",
    "line ACME-L1 is operated by CMO ACME; batch L2026B is not ACME's",
)

# Sites and lines.
LINE_ID = Rule(
    "line-id",
    "a line id is 1 to 64 letters, digits, '.', '_' or '-'",
    "line_id",
    "a line id is 1 to 64 letters, digits, '.', '_' or '-'",
)
GLN_EXTENSION = Rule(
    "gs1-ai-254",
    "a read point's GLN extension (the line id if none is given) is 1 to 20 letters, digits or '-', not '0'",
    "extension",
    "a GLN extension is 1 to 20 letters, digits or '-' (GS1 AI 254), not '0' (the site itself)",
)
UNIQUE_READ_POINT = Rule(
    "unique-read-point",
    "a read point (SGLN) is one line's",
    "extension",
    "read point urn:epc:id:sgln:9506000.00000.L1 is already another line's",
)

# Amounts.
RANGE = Rule("range", "a number lies within the bounds stated", "quantity", "must be between 1 and 1,000,000")
SIZE = Rule(
    "size",
    "a list holds at least one entry and at most as many as one request allows",
    "serials",
    "a commissioning holds 1 to 100,000 serials",
)

# Serial pools.
GUESS_PROBABILITY = Rule(
    "eu-fmd-guess-probability",
    "once issued, the chance of guessing a valid serial of the GTIN stays below 1 in 10,000 (EU FMD)",
    "quantity",
    "issuing 5,000 more serials would make the chance of guessing a valid 6-character numeric serial of "
    "09506000134352 reach 1 in 200 (EU FMD requires below 1 in 10,000); at most 99 more can be issued "
    "with this serial format",
)
SERIAL_KEY = Rule(
    "serial-key",
    "a GTIN's serials are issued with the key its pool was opened with (another could repeat serials)",
    "gtin",
    "serial key changed since the pool was opened",
)

# SSCCs.
COMPANY_PREFIX = Rule(
    "gs1-company-prefix",
    "a GS1 company prefix is 6 to 12 digits",
    "company_prefix",
    "a GS1 company prefix is 6 to 12 digits",
)
SSCC_CAPACITY = Rule(
    "sscc-capacity",
    "the company prefix and extension digit have serial references left for the quantity",
    "quantity",
    "only 1,000 serial references remain for prefix 950600012 with extension digit 3",
)

# Serials, imported or commissioned.
SERIAL = Rule(
    "gs1-ai-21",
    "a serial is 1 to 20 characters of GS1 character set 82 (AI 21)",
    "serials[0]",
    "'A B' contains characters outside GS1 character set 82",
)
EU_ALPHANUMERIC = Rule(
    "eu-fmd-alphanumeric",
    "a serial of a product for EU markets is letters and digits only (EU FMD)",
    "serials[0]",
    "'CMO-0001': EU FMD serials are alphanumeric",
)
DUPLICATE = Rule("duplicate", "a serial appears once in a request", "serials[3]", "CMO0001 appears more than once")
UNIQUE_FOR_GTIN = Rule(
    "unique-for-gtin",
    "an imported serial was not issued for the GTIN by a serial request",
    "serials[0]",
    "4KX7R2PQ9M1T was already issued by a serial request",
)
ISSUED_FOR_GTIN = Rule(
    "issued-for-gtin",
    "the serial was issued (or imported) for the GTIN, and for the batch when it was for one",
    "serials[0]",
    "4KX7R2PQ9M1T was not issued or imported for GTIN 09506000134352 (and for this batch, when it was for one)",
)
ALREADY_COMMISSIONED = Rule(
    "commissioned", "a serial is commissioned once", "serials[0]", "4KX7R2PQ9M1T is already commissioned"
)
ALREADY_IMPORTED = Rule(
    "imported", "a serial is imported once for its GTIN", "serials[0]", "CMO0001 is already imported"
)
# What a serial claimed twice is refused with, by the claim (`write_side.AlreadyTaken.reason`).
ALREADY = {rule.name: rule for rule in (ALREADY_COMMISSIONED, ALREADY_IMPORTED)}

# Commissioning: which serials, into which batch, when.
ONE_OF = Rule(
    "one-of",
    "a commissioning gives exactly one of gtin + serials, epcs or scans",
    "serials",
    "give one of gtin + serials, epcs (SGTIN URIs) or scans (as the line read them)",
)
REQUIRED = Rule("required", "serials come with their gtin", "gtin", "required")
SGTIN_URI = Rule(
    "sgtin-uri",
    "an EPC is an SGTIN pure identity URI",
    "epcs[0]",
    "'urn:epc:id:sscc:9506000.0000000001' is not an SGTIN pure identity URI",
)
SGTIN = Rule(
    "sgtin",
    "a scan names a pack (GTIN + serial), not an SSCC",
    "scans[0]",
    "'(00)195060000000000012' names an SSCC, not a pack (GTIN + serial)",
)
SINGLE_GTIN = Rule(
    "single-gtin",
    "the serials of one commissioning share one GTIN (and the gtin given, if one is)",
    "scans",
    "all scans of one commissioning must share one GTIN (and the gtin given); "
    "found ['09506000134352', '09506000134369']",
)
MATCHES_BATCH = Rule(
    "matches-batch",
    "an expiry given is the batch's",
    "expiry",
    "batch L2026A expires 2028-06-30, not 2028-07-31",
)
LABEL_MATCHES_BATCH = Rule(
    "label-matches-batch",
    "a lot or expiry a scanned label carries is the batch's",
    "scans[0]",
    "scanned with lot L2026B, but it is being commissioned into lot L2026A",
)
AFTER_BATCH_REGISTERED = Rule(
    "after-batch-registered",
    "commissioning happens after its batch was registered (less the clock skew allowed)",
    "event_time",
    "commissioning at 2026-01-05T08:00:00+00:00 is before batch L2026A was registered",
)
BEFORE_EXPIRY = Rule(
    "before-expiry",
    "commissioning happens no later than its batch's expiry",
    "event_time",
    "commissioning on 2028-07-01 is after batch L2026A's expiry 2028-06-30",
)

# Reads.
UUID_FORMAT = Rule("uuid", "a request id is a UUID", "request_id", "'42' is not a UUID")
CAPTURED_BATCH = Rule(
    "captured-batch",
    "a commissioning event captured through EPCIS names its batch: ILMD lotNumber (and, if it gives one, a valid "
    "itemExpirationDate)",
    "eventList[0].ilmd.cbvmda:lotNumber",
    "a commissioning event names the batch its packs are in: ILMD cbvmda:lotNumber",
)
COMMISSIONED = Rule(
    "commissioned-as-captured",
    "a commissioning event captured through EPCIS is one serial issuance records",
    "eventList[0]",
    "the commissioning could not be recorded",
)
CAPTURER_SCOPE = Rule(
    "capturer-scope",
    "a commissioning captured through EPCIS happens on a line within the capturing key's scope",
    "eventList[0].readPoint.id",
    "the line at this read point is not within the capturing key's scope",
)
