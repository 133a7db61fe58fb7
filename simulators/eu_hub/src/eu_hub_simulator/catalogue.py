"""Product master data: versioned, every version kept, a version never rewritten."""

from __future__ import annotations

import orjson

from eu_hub_simulator.models import Product, parse
from eu_hub_simulator.rules import FMD_MARKETS, Refused, printable, product_code_ok, repeated
from eu_hub_simulator.store import Store


def check_product(code: str, product: Product) -> None:
    if not product_code_ok(product.coding_scheme, code):
        raise Refused(422, "NMVS_NC_PC_01", f"{code!r} is no valid {product.coding_scheme} product code")
    markets = [entry.market for entry in product.markets]
    unknown = [market for market in markets if market not in FMD_MARKETS]
    if unknown:
        raise Refused(422, "NMVS_FE_MD_02", "markets outside the EU FMD: " + ", ".join(unknown), unknown)
    twice = repeated(markets)
    if twice:
        raise Refused(422, "NMVS_FE_MD_02", "markets listed more than once: " + ", ".join(twice), twice)
    missing = [e.market for e in product.markets if e.national_code is None or not printable(e.national_code, 20)]
    if missing:
        raise Refused(
            422,
            "NMVS_FE_MD_03",
            "each market needs a national code of 1 to 20 printable characters: " + ", ".join(missing),
            missing,
        )


def put_product(store: Store, code: str, body: bytes) -> dict[str, object]:
    product = parse(Product, body, code="NMVS_FE_MD_01")
    check_product(code, product)
    content = orjson.dumps(product.model_dump(), option=orjson.OPT_SORT_KEYS)
    db = store.db
    pid = store.product_id(code)
    if pid is None:
        pid = int(db.execute("INSERT INTO products (code) VALUES (?) RETURNING pid", (code,)).fetchone()[0])
    same = db.execute("SELECT content FROM product_versions WHERE pid = ? AND version = ?", (pid, product.version))
    stored = same.fetchone()
    latest = int(
        db.execute("SELECT coalesce(max(version), 0) FROM product_versions WHERE pid = ?", (pid,)).fetchone()[0]
    )
    if stored is not None and stored[0] == content:
        return {"product_code": code, "version": product.version, "accepted": True}  # a repeat
    if stored is not None:
        raise Refused(409, "NMVS_FE_MD_04", f"version {product.version} was accepted before with other content")
    if product.version < latest:
        raise Refused(409, "NMVS_FE_MD_04", f"version {product.version} is below the latest version, {latest}")
    markets = " ".join(entry.market for entry in product.markets)
    db.execute(
        "INSERT INTO product_versions (pid, version, content, markets) VALUES (?, ?, ?, ?)",
        (pid, product.version, content, markets),
    )
    return {"product_code": code, "version": product.version, "accepted": True}
