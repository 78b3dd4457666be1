"""Tables of the serving layer: endpoints and every configuration each one has had."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from loopml.store._models import Base

__all__ = ["EndpointConfigRow", "EndpointRow"]


class EndpointRow(Base):
    """A named serving endpoint and the generation of its configuration in force.

    Serving processes poll ``generation``: a change (an update, a rollback) is the signal to
    load the new configuration and swap to it.
    """

    __tablename__ = "endpoints"

    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer)
    creation_timestamp: Mapped[int] = mapped_column(BigInteger)
    last_updated_timestamp: Mapped[int] = mapped_column(BigInteger)


class EndpointConfigRow(Base):
    """Generation ``generation`` of an endpoint's configuration, kept for history and
    rollback: a row is written once and never changed."""

    __tablename__ = "endpoint_configs"

    name: Mapped[str] = mapped_column(
        String(256), ForeignKey("endpoints.name", ondelete="CASCADE"), primary_key=True
    )
    generation: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec_json: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str] = mapped_column(String(256))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = ({"sqlite_with_rowid": False},)
