"""The GS1 rules a scan or a key can break, each named once: the refusals of the line parser and
the key checks carry these names, and every operation that reads scans declares them."""

from __future__ import annotations

from serialtrail_kit.errors import Rule

_SCAN = "children[0]"
SYNTAX = Rule(
    "gs1-syntax",
    "the text is scanner data, an element string, HRI, a GS1 Digital Link or EPC URI, or an 18-digit SSCC",
    _SCAN,
    "'hello': expected scanner data, an element string, HRI, a GS1 Digital Link or EPC URI, or an 18-digit SSCC",
)
SYMBOLOGY = Rule(
    "gs1-symbology",
    "a symbology identifier (]d2, ]C1, ]e0, ]Q3 …) is one that carries GS1 data",
    _SCAN,
    "']A0010950…': symbology identifier ']A0' carries no GS1 data",
)
AMBIGUOUS = Rule(
    "gs1-ambiguous",
    "the scan reads one way only (an unescaped '(' in HRI, a value running into the next AI, SSCC and SGTIN together)",
    _SCAN,
    "'(01)09506000134352(21)A(B': an unescaped '(' in the value of AI (21)",
)
CHECK_DIGIT = Rule(
    "gs1-check-digit",
    "GTIN, SSCC and GLN check digits are right",
    _SCAN,
    "'(00)106141412345678908': check digit is wrong",
)
HRI_SYNTAX = Rule(
    "gs1-hri-syntax", "HRI starts with an AI in parentheses", _SCAN, "'01)0950…': HRI starts with an AI in parentheses"
)
UNKNOWN_AI = Rule(
    "gs1-unknown-ai",
    "every AI is a GS1 Application Identifier",
    _SCAN,
    "'(99X)1': (99X) is not a GS1 Application Identifier",
)
DIGITAL_LINK = Rule(
    "gs1-digital-link",
    "a URI is a valid GS1 Digital Link",
    _SCAN,
    "'https://id.example/01/123': not a valid GS1 Digital Link URI",
)
EPC_URI = Rule(
    "epc-uri",
    "an EPC URI is a valid SGTIN or SSCC pure identity or tag URI",
    _SCAN,
    "'urn:epc:id:sgtin:1.2': not a valid SGTIN or SSCC EPC URI",
)
AI_REPEATED = Rule(
    "gs1-ai-repeated",
    "an AI appears once, or again with the same value",
    _SCAN,
    "AI (10) appears twice with different values",
)
AI_EXCLUDES = Rule(
    "gs1-ai-excludes",
    "AIs GS1 declares exclusive do not appear together",
    _SCAN,
    "AI (01) must not appear with AI (37)",
)
AI_REQUIRES = Rule(
    "gs1-ai-requires", "an AI appears with the AIs GS1 requires beside it", _SCAN, "AI (21) requires (01) or (03)"
)
FORMAT = Rule(
    "gs1-format",
    "each AI's value has its GS1 format (length, characters)",
    _SCAN,
    "'ABC' is not a valid value of AI (17) EXPIRATION DATE: format N6",
)
DATE = Rule(
    "gs1-date",
    "a date AI holds a real date (YYMMDD; day 00 is the month's last)",
    _SCAN,
    "'261332' in AI (17) is not a date",
)
INSTANCE_KEY = Rule(
    "gs1-instance-key",
    "the scan names one object: an SSCC (00), or a GTIN (01) with a serial (21)",
    _SCAN,
    "names no single object: expected an SSCC (00) or a GTIN (01) with a serial (21)",
)
IDENTIFIER = Rule("gs1-identifier", "the identifier is a valid SGTIN or SSCC", _SCAN, "an SSCC is 18 digits")
SCAN_RULES = (
    SYNTAX, SYMBOLOGY, AMBIGUOUS, CHECK_DIGIT, HRI_SYNTAX, UNKNOWN_AI, DIGITAL_LINK, EPC_URI, AI_REPEATED,
    AI_EXCLUDES, AI_REQUIRES, FORMAT, DATE, INSTANCE_KEY, IDENTIFIER,
)  # fmt: skip

GTIN = Rule("gtin", "a GTIN-14: 14 digits with a right check digit", "gtin", "check digit is wrong: expected 2, got 3")
GLN = Rule("gln", "a GLN: 13 digits with a right check digit", "gln", "must be 13 digits")
LOT = Rule(
    "gs1-ai-10",
    "a lot is 1 to 20 characters of GS1 character set 82 (AI 10)",
    "lot",
    "a lot is 1 to 20 characters from GS1 character set 82 (AI 10)",
)
