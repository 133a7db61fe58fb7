"""The rules the EU FMD hub service refuses requests by, each named once: the code that refuses
cites the constant, and the OpenAPI document shows its meaning and example on every operation
that can break it. The names are what clients match on: they do not change."""

from __future__ import annotations

from serialtrail_kit.errors import Rule

KNOWN_PRODUCT = Rule(
    "known-product",
    "the product is registered (serial issuance) and within your scope",
    "gtin",
    "no product 09506000134352 is known (a product registered moments ago may not have reached the hub service yet)",
)
EU_MARKET = Rule(
    "eu-market",
    "each market is one of the product's target markets and uses the European Hub (EU/EEA, XI), named once",
    "markets[0].market",
    "'US' does not use the European Hub",
)
KNOWN_BATCH = Rule(
    "known-batch",
    "the batch is registered (serial issuance) and within your scope",
    "lot",
    "no batch 'L-2026-07' is known for GTIN 09506000134352",
)
MASTER_DATA_FIRST = Rule(
    "master-data-acknowledged",
    "a batch is uploaded only once the hub acknowledged its product's master data",
    "gtin",
    "the hub has not acknowledged master data of 09506000134352 yet (version 1 is being sent)",
)
HUB_BATCH_ID = Rule(
    "hub-batch-id",
    "a batch id the hub takes: 1-20 characters, letters, digits and - . _",
    "lot",
    "'L 2026 07' has characters the hub does not take (letters, digits and - . _ only)",
)
HUB_SERIAL = Rule(
    "hub-serial",
    "every serial the hub is sent is 1-20 letters and digits (EU FMD)",
    "serials",
    "2 serials the hub does not take: 'AB-12', 'X_1'",
)
HUB_EXPIRY = Rule(
    "hub-expiry",
    "a batch uploaded has an expiry the hub can carry (YYMMDD, 2000-2099) and has not expired",
    "expiry",
    "the batch expired on 2026-06-30",
)
NOTHING_TO_UPLOAD = Rule(
    "something-to-upload",
    "an upload sends at least one serial: one commissioned into the batch, not uploaded before, not left out",
    "lot",
    "every commissioned serial of batch L-2026-07 was uploaded already (1,000 packs)",
)
BATCH_UPLOADED = Rule(
    "batch-uploaded",
    "a batch is recalled or withdrawn at the hub only once it was uploaded there",
    "lot",
    "batch L-2026-07 was never uploaded to the hub",
)
BATCH_STATE_FINAL = Rule(
    "batch-state-final",
    "a recall or a withdrawal at the hub is irreversible: a batch recalled is never withdrawn, nor the reverse",
    "state",
    "batch L-2026-07 is recalled at the hub already",
)
NOT_RECALLED = Rule(
    "batch-not-recalled",
    "a batch recalled or withdrawn at the hub gets no more uploads",
    "lot",
    "batch L-2026-07 is recalled at the hub: nothing more of it is uploaded",
)
ALERT_STATE = Rule(
    "alert-state",
    "an alert is investigated when new, and closed when new or under investigation (once)",
    "state",
    "alert 5b0c… is closed: only one new or under-investigation is closed",
)
KNOWN_DEVIATION = Rule(
    "known-deviation",
    "a deviation an alert is linked to is one line exceptions opened for the alert's product",
    "deviation_id",
    "no deviation 8f1e… of product 09506000134352 is known",
)
KNOWN_ALERT = Rule(
    "known-alert", "the alert is one the hub raised (and within your scope)", "alert_id", "unknown alert"
)
