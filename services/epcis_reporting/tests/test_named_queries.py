"""Named queries (EPCIS 2.0 REST binding `/queries`): defined by name, each its creator's; their
events are what GET /events answers their parameters, narrowed to the reader's scope."""

from __future__ import annotations

import uuid
from typing import Any

from serialtrail_contracts.identity import Role, Scope
from serialtrail_kit.testing.harness import Harness
from test_query import GTIN_OWN, capture, event, harness, unit, validator

__all__ = ["harness", "validator"]  # the fixtures, shared with test_query
BRAND_OWNER = Scope(company_prefixes=frozenset({"9506000"}))


def results(response: Any) -> list[Any]:
    assert response.status_code == 200, response.text
    found: list[Any] = response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return found


async def test_a_named_query_answers_its_parameters_and_is_its_creators(harness: Harness, validator: Any) -> None:
    client, tag = harness.client, uuid.uuid4().hex[:10].upper()
    shipped, received = unit(GTIN_OWN, f"{tag}1"), unit(GTIN_OWN, f"{tag}2")
    time = "2026-11-30T09:15:00+01:00"
    await capture(client, event([shipped], "shipping", time), event([received], "receiving", time))
    name = f"shipping-{tag}"
    definition = {"EQ_bizStep": ["shipping"], "MATCH_anyEPC": [shipped, received], "GE_eventTime": time}
    defined = await client.post("/v1/epcis/queries", json={"name": name, "query": definition})
    assert defined.status_code == 201, defined.text
    assert defined.headers["location"] == f"/v1/epcis/queries/{name}"
    assert (await client.get(f"/v1/epcis/queries/{name}")).json() == {"name": name, "query": definition}
    assert {"name": name, "query": definition} in (await client.get("/v1/epcis/queries")).json()
    answered = (await client.get(f"/v1/epcis/queries/{name}/events")).json()
    assert answered["epcisBody"]["queryResults"]["queryName"] == name  # as a subscription's deliveries name it
    found = results(await client.get(f"/v1/epcis/queries/{name}/events"))
    assert [e["epcList"] for e in found] == [[shipped]]
    assert list(validator.iter_errors((await client.get(f"/v1/epcis/queries/{name}/events")).json())) == []

    again = await client.post("/v1/epcis/queries", json={"name": name, "query": {}})
    assert again.status_code == 409
    assert again.json()["errors"][0]["rule"] == "query-name-unique"
    async with harness.client_with(await harness.token(Role.qa, BRAND_OWNER)) as other:
        theirs = await other.get(f"/v1/epcis/queries/{name}/events")
        unknown = await other.get(f"/v1/epcis/queries/no-such-{tag}/events")
        assert theirs.status_code == unknown.status_code == 404
        assert theirs.json()["errors"][0]["rule"] == unknown.json()["errors"][0]["rule"] == "query-defined"
        own_name = await other.post("/v1/epcis/queries", json={"name": name, "query": {"EQ_bizStep": ["receiving"]}})
        assert own_name.status_code == 201  # the same name, its own query: nothing of the other's revealed
        assert [e["epcList"] for e in results(await other.get(f"/v1/epcis/queries/{name}/events"))] == [[received]]

    assert (await client.delete(f"/v1/epcis/queries/{name}")).status_code == 204
    assert (await client.get(f"/v1/epcis/queries/{name}")).status_code == 404
    assert (await client.delete(f"/v1/epcis/queries/{name}")).status_code == 404


async def test_a_query_this_repository_cannot_answer_is_refused_naming_the_parameter(harness: Harness) -> None:
    for query, field, rule in (
        ({"EQ_quantity": 5}, "query.EQ_quantity", "supported-parameter"),
        ({"EQ_bizStep": "shipping|receiving", "MATCH_epc": [1]}, "query.MATCH_epc", "supported-parameter"),
        ({"GE_eventTime": "2026-11-30T09:00:00"}, "query.GE_eventTime", "time-with-offset"),
        ({"GE_eventTime": "0001-01-01T00:00:00+01:00"}, "query.GE_eventTime", "time-with-offset"),
        ({"EQ_bizStep": None}, "query.EQ_bizStep", "supported-parameter"),
        ({"MATCH_epc": [f"urn:epc:id:sgtin:9506000.013435.{n}" for n in range(1001)]}, "query", "supported-parameter"),
        # As many in one string, as a URL carries them: each counts.
        (
            {"MATCH_epc": "|".join(f"urn:epc:id:sgtin:9506000.013435.{n}" for n in range(1001))},
            "query",
            "supported-parameter",
        ),
        (
            {"EQ_readPoint": [f"urn:epc:id:sgln:9506000.00001.{'X' * 150}{n}" for n in range(500)]},
            "query",
            "supported-parameter",
        ),
    ):
        refused = await harness.client.post("/v1/epcis/queries", json={"name": "refused", "query": query})
        assert refused.status_code == 422, refused.text
        assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [(field, rule)]
    bad_name = await harness.client.post("/v1/epcis/queries", json={"name": "my query", "query": {}})
    assert bad_name.status_code == 422
    assert bad_name.json()["errors"][0]["rule"] == "query-name"
    assert (await harness.client.get("/v1/epcis/queries/refused")).status_code == 404  # nothing kept


async def test_a_time_or_page_token_beyond_what_the_repository_holds_is_refused(harness: Harness) -> None:
    for params, rule in (
        ({"GE_eventTime": "0001-01-01T00:00:00+01:00"}, "time-with-offset"),
        ({"LT_eventTime": "9999-12-31T23:59:59-01:00"}, "time-with-offset"),
        ({"nextPageToken": "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk"}, "page-token"),
    ):
        refused = await harness.client.get("/v1/epcis/events", params=params)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["rule"] == rule
