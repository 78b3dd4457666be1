"""The real-server fixtures work: PostgreSQL via SQLAlchemy, SeaweedFS via s3fs."""

from __future__ import annotations

import uuid

import pytest
import s3fs
import sqlalchemy as sa

from _servers import PostgresServer, SeaweedS3Server


@pytest.mark.postgres
def test_postgres_accepts_sqlalchemy_connections(pg_url: str) -> None:
    assert pg_url.startswith("postgresql+psycopg://")
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text("select 1")).scalar_one() == 1
            version_num = int(conn.execute(sa.text("show server_version_num")).scalar_one())
            assert version_num >= 120000
            assert conn.execute(sa.text("show server_version")).scalar_one()[:2].isdigit()
            server_addr = conn.execute(sa.text("select host(inet_server_addr())")).scalar_one()
            assert server_addr == "127.0.0.1"
            assert conn.execute(sa.text("show listen_addresses")).scalar_one() == "127.0.0.1"
            assert conn.execute(sa.text("select current_database()")).scalar_one() == (
                sa.make_url(pg_url).database
            )
            conn.execute(sa.text("create table t (id int primary key, name text not null)"))
            conn.execute(sa.text("insert into t values (1, 'a'), (2, 'b')"))
        with engine.connect() as conn:
            rows = conn.execute(sa.text("select id, name from t order by id")).all()
            assert [tuple(r) for r in rows] == [(1, "a"), (2, "b")]
            with pytest.raises(sa.exc.IntegrityError):
                conn.execute(sa.text("insert into t values (1, 'dup')"))
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_new_database_is_empty_and_isolated(postgres_server: PostgresServer) -> None:
    name_a = f"iso_a_{uuid.uuid4().hex[:8]}"
    name_b = f"iso_b_{uuid.uuid4().hex[:8]}"
    engine_a = sa.create_engine(postgres_server.new_database(name_a))
    engine_b = sa.create_engine(postgres_server.new_database(name_b))
    try:
        with engine_a.begin() as conn:
            conn.execute(sa.text("create table only_in_a (x int)"))
        assert sa.inspect(engine_a).get_table_names() == ["only_in_a"]
        assert sa.inspect(engine_b).get_table_names() == []
    finally:
        engine_a.dispose()
        engine_b.dispose()
        postgres_server.drop_database(name_a)
        postgres_server.drop_database(name_b)
    with pytest.raises(ValueError):
        postgres_server.new_database("Robert'); drop table students;--")


@pytest.mark.s3
def test_s3_write_read_list_delete(seaweed_s3: SeaweedS3Server) -> None:
    assert seaweed_s3.endpoint_url.startswith("http://127.0.0.1:")
    bucket = seaweed_s3.new_bucket(f"fixture-{uuid.uuid4().hex[:12]}")
    assert bucket.startswith("s3://")
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **seaweed_s3.storage_options)
    payload = bytes(range(256)) * 4096  # 1 MiB, binary-safe
    fs.pipe(f"{bucket}/dir/blob.bin", payload)
    fs.pipe(f"{bucket}/dir/note.txt", b"hello")

    assert fs.cat(f"{bucket}/dir/blob.bin") == payload
    with fs.open(f"{bucket}/dir/note.txt", "rb") as fh:
        assert fh.read() == b"hello"
    assert fs.info(f"{bucket}/dir/blob.bin")["size"] == len(payload)
    names = sorted(fs.ls(f"{bucket}/dir", detail=False, refresh=True))
    assert names == [f"{bucket[5:]}/dir/blob.bin", f"{bucket[5:]}/dir/note.txt"]

    fs.rm(f"{bucket}/dir/blob.bin")
    fs.invalidate_cache()
    assert not fs.exists(f"{bucket}/dir/blob.bin")
    assert fs.ls(f"{bucket}/dir", detail=False, refresh=True) == [f"{bucket[5:]}/dir/note.txt"]


@pytest.mark.s3
def test_s3_rejects_wrong_credentials(seaweed_s3: SeaweedS3Server) -> None:
    bucket = seaweed_s3.new_bucket(f"auth-{uuid.uuid4().hex[:12]}")
    options = {**seaweed_s3.storage_options, "secret": "not-the-secret"}
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **options)
    with pytest.raises(PermissionError):
        fs.pipe(f"{bucket}/x", b"nope")
