"""Failures at start said in one line that names the setting to fix, not as a traceback: a
server that cannot be reached, a role refused, a database missing, a right not granted."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError

from serialtrail_kit.db import database_of, where_of

SETUP_HINT = "run `serialtrail db setup` with an administrator's DSN (SERIALTRAIL_DB_ADMIN_URL)"


class CannotStart(RuntimeError):
    """Configuration or infrastructure that stops a start; the message names what to fix."""


@contextlib.contextmanager
def naming_database(setting: str, dsn: str) -> Iterator[None]:
    """Within: a database failure becomes a CannotStart naming `setting`."""
    try:
        yield
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as error:
        raise CannotStart(f"{setting}: {where_of(dsn)} refused role {_role(dsn)!r}: {error}") from error
    except asyncpg.InvalidCatalogNameError as error:
        raise CannotStart(
            f"{setting}: there is no database {database_of(dsn)!r} on {where_of(dsn)}; {SETUP_HINT}"
        ) from error
    except asyncpg.InsufficientPrivilegeError as error:
        raise CannotStart(f"{setting}: role {_role(dsn)!r} may not do this: {error}; {SETUP_HINT}") from error
    except (OSError, socket.gaierror, TimeoutError) as error:
        raise CannotStart(f"{setting}: cannot reach the database server at {where_of(dsn)}: {error}") from error
    except ValueError as error:  # the URL itself: its message may quote a piece of the password
        raise CannotStart(
            f"{setting} is not a valid postgresql:// URL (percent-encode / # ? @ : in the password)"
        ) from error


@contextlib.contextmanager
def naming_kafka(bootstrap_servers: str) -> Iterator[None]:
    try:
        yield
    except (KafkaConnectionError, KafkaError, OSError) as error:
        raise CannotStart(
            f"KAFKA_BOOTSTRAP_SERVERS: cannot reach the brokers at {bootstrap_servers}: {error}"
        ) from error


def _role(dsn: str) -> str:
    try:
        return urlsplit(dsn).username or "(none)"
    except ValueError:
        return "(unreadable URL)"
