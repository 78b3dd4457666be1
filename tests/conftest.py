"""Shared pytest fixtures."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from _servers import PostgresServer, SeaweedS3Server

# --- real servers ---
# A real PostgreSQL and a real SeaweedFS S3 server on 127.0.0.1, each started once per
# session on first use (see tests/_servers.py). No mocks; missing binaries fail loudly.


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def seaweed_s3() -> Iterator[SeaweedS3Server]:
    with SeaweedS3Server() as server:
        yield server


@pytest.fixture
def pg_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty database for this test; dropped afterwards."""
    stem = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40].strip("_")
    name = f"t_{stem}_{uuid.uuid4().hex[:8]}"
    yield postgres_server.new_database(name)
    postgres_server.drop_database(name)
