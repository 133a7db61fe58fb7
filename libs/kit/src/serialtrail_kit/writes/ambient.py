"""A transaction a request holds around everything it records (an idempotent request: its
events and its stored answer commit together). Units of work started while it is open run
inside it, as savepoints; a read that must see the request's own writes first commits it
early (`settle`)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from asyncpg.transaction import Transaction

from serialtrail_kit.db import Connection


@dataclass
class Ambient:
    conn: Connection
    transaction: Transaction
    committed: bool = False
    recorded: bool = False  # a unit of work ran inside it

    async def settle(self) -> None:
        """Commit now, if anything was recorded: it becomes visible to the read models (the
        answer is then stored in a transaction of its own)."""
        if self.recorded and not self.committed:
            await self.transaction.commit()
            self.committed = True


CURRENT: ContextVar[Ambient | None] = ContextVar("serialtrail_ambient_transaction", default=None)


def open_transaction() -> Connection | None:
    """The connection of the request's open transaction, if there is one (for a unit of work
    about to record in it)."""
    ambient = CURRENT.get()
    if ambient is None or ambient.committed:
        return None
    ambient.recorded = True
    return ambient.conn


async def settle() -> None:
    ambient = CURRENT.get()
    if ambient is not None:
        await ambient.settle()
