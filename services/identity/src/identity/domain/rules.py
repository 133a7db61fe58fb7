"""The rules identity refuses requests by, each named once (the OpenAPI document shows them)."""

from __future__ import annotations

from serialtrail_kit.errors import Rule

ACTIVE_KEY = Rule("active-key", "the key exists and is not revoked", "key_id", "unknown or revoked")
EXPIRY_IN_FUTURE = Rule(
    "in-future",
    "a key's expiry is in the future (a key born expired cannot be used)",
    "expires_at",
    "2020-01-01T00:00:00+00:00 is not in the future: a key born expired cannot be used",
)

# A scope as `Scope.checked` refuses it (the contracts name the rules; the meanings are here).
SCOPE_RULES = {
    rule.name: rule
    for rule in (
        Rule(
            "required-for-role",
            "a scoped role's key names a scope, with its company_prefixes",
            "scope",
            "a line key or token needs a scope (company_prefixes at least)",
        ),
        Rule("object", "a scope is an object of dimensions", "scope", "a scope must be an object of dimensions"),
        Rule(
            "known-dimension", "a scope names only known dimensions", "scope.plants", "unknown scope dimension 'plants'"
        ),
        Rule(
            "within-company-prefixes",
            "every GTIN of a scope is within its company prefixes",
            "scope.gtins",
            "GTIN 09506000134352 is outside the scope's company prefixes",
        ),
        Rule(
            "list-of-strings",
            "a scope dimension is a list of strings",
            "scope.lines",
            "scope.lines must be a list of strings",
        ),
        Rule(
            "non-empty",
            "a scope dimension that is given names something",
            "scope.lines",
            "scope.lines is empty: leave it out, or name what is in scope",
        ),
        Rule(
            "format",
            "each value of a scope dimension has that dimension's format",
            "scope.company_prefixes",
            "scope.company_prefixes: '95' must be 6 to 12 digits",
        ),
        Rule(
            "check-digit",
            "GLNs and GTINs in a scope have right check digits",
            "scope.sites",
            "scope.sites: '9506000000007' has a wrong check digit (expected 3)",
        ),
    )
}
