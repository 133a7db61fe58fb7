"""What each route of EPCIS reporting touches, and who owns it (checked by the kit before the
endpoint runs: `serialtrail_kit.access.resources`).

A document to capture names nothing the kit can check before reading it: each of its events is
checked against the capturing key's scope as it is read (an event naming another company's
objects is refused in the job, 403). A capture job is its capturer's, and its capturer's party's
(`domain.capture.job_owner`); anyone else's answers exactly like an unknown one."""

from __future__ import annotations

from uuid import UUID

from fastapi import Request
from serialtrail_contracts.identity import Target
from serialtrail_gs1.paths import GTIN_IN_PATH, gtin_in_path
from serialtrail_kit.access.authz import body_target
from serialtrail_kit.access.resources import Resource
from serialtrail_kit.db import Pool
from serialtrail_kit.errors import NotFound

from epcis_reporting.application import subscribers
from epcis_reporting.domain import subscriptions
from epcis_reporting.domain.named_queries import DEFINED, unknown
from epcis_reporting.projections import jobs, named_queries, party

LOG = "epcis_reporting"  # the service's schema: its log and write-side tables


def _no_query(request: Request) -> Exception:
    return unknown(str(request.path_params["queryName"])[:64])


class Resources:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.document = Resource(
            "epcis-document", description="a document to capture: each event's objects, checked as it is read"
        )
        self.job = Resource("capture-job", owner=self._job, description="a capture job: its capturer's")
        self.jobs = Resource("capture-jobs", description="capture jobs: a narrowed key's own")
        self.events = Resource("epcis-events", description="captured events: a narrowed key's party's")
        self.epc_events = Resource("epc-events", description="one object's captured events: a narrowed key's party's")
        self.new_grant = Resource(
            "partner-grant", named=body_target(gtins="gtin"), description="a partner's grant of a batch: its product's"
        )
        self.grant = Resource(
            "partner-grant", named=gtin_in_path(), refuses=GTIN_IN_PATH, description="a partner's grant of a batch"
        )
        self.named_queries = Resource("named-queries", description="named queries: the caller's own")
        self.named_query = Resource(
            "named-query",
            owner=self._named_query,
            unknown=_no_query,
            refuses={NotFound: (DEFINED,)},
            description="a named query: its creator's",
        )
        self.subscription = Resource(
            "query-subscription",
            owner=self._subscription,
            unknown=lambda _request: subscriptions.unknown(),
            refuses={NotFound: (subscriptions.SUBSCRIBED,)},
            description="a subscription to a named query: its subscriber's",
        )
        self.grants = Resource(
            "partner-grants", description="grants in force: a narrowed key's products', a partner's own"
        )

    async def _named_query(self, request: Request) -> Target | None:
        """A name names one of the caller's own queries; anyone else's is not found by it at all."""
        name = str(request.path_params["queryName"])
        found = await named_queries.one(self.pool, request.state.principal.id, name)
        if found is None:
            raise _no_query(request)
        request.state.named_query = found
        return Target()

    async def _subscription(self, request: Request) -> Target | None:
        """A subscription of the caller's own query of that name; anyone else's is unknown to it."""
        try:
            subscription_id = UUID(str(request.path_params["subscriptionID"]))
        except ValueError:
            raise subscriptions.unknown() from None
        async with self.pool.acquire() as conn:
            found = await subscribers.one(conn, LOG, subscription_id)
        mine = found is not None and found["principal_id"] == request.state.principal.id
        if not mine or found["query_name"] != request.path_params["queryName"]:
            raise subscriptions.unknown()
        request.state.subscription = found
        return Target()

    async def _job(self, request: Request) -> Target | None:
        try:
            capture_id = UUID(request.path_params["capture_id"])
        except ValueError:
            return None
        async with self.pool.acquire() as conn:
            found = await jobs.job(conn, capture_id)
        if found is None:
            return None
        request.state.job = found
        # Its capturer reads it whatever it named; anyone else as its party's.
        return Target() if found["principal_id"] == request.state.principal.id else party.owner(found)
