"""The run search grammar: MLflow's filter language plus OR and parentheses, parsed by lark.

A filter is turned into a small tree of :class:`Clause` and :class:`BoolOp` nodes here; the
store-side compiler (``_search.py``) turns that tree into SQLAlchemy expressions, never into
SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from lark import Lark, Token, Transformer, UnexpectedInput, v_args

from loopml.errors import InvalidInput

__all__ = ["BoolOp", "Clause", "OrderKey", "parse_filter", "parse_order_by"]

Entity = Literal["metric", "param", "tag", "attribute"]

_GRAMMAR = r"""
?filter: or_expr
?or_expr: and_expr (OR and_expr)*
?and_expr: atom (AND atom)*
?atom: clause
     | "(" or_expr ")"

clause: lhs COMPARATOR value            -> compare
      | lhs LIKE_OP value               -> compare
      | lhs IS NULL                     -> is_null
      | lhs IS NOT NULL                 -> is_not_null
      | lhs IN values                   -> in_
      | lhs NOT IN values               -> not_in

order: lhs DIRECTION?

lhs: IDENT                              -> plain
   | IDENT QUOTED                       -> prefixed
   | QUOTED                             -> quoted

value: STRING | NUMBER
values: "(" STRING ("," STRING)* ","? ")"

OR.3: /or\b/i
AND.3: /and\b/i
IS.3: /is\b/i
NOT.3: /not\b/i
NULL.3: /null\b/i
IN.3: /in\b/i
LIKE_OP.3: /i?like\b/i
DIRECTION.3: /(asc|desc)\b/i
COMPARATOR: "!=" | "<>" | "<=" | ">=" | "=" | "==" | "<" | ">"
IDENT: /[A-Za-z_][A-Za-z0-9_.\-\/:]*/
QUOTED: /`[^`]*`/ | /"(?:[^"\\]|\\.)*"/
STRING: /'(?:[^'\\]|\\.|'')*'/ | /"(?:[^"\\]|\\.)*"/
NUMBER: /[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/

%import common.WS
%ignore WS
"""

_PREFIXES: dict[str, Entity] = {
    "metric": "metric",
    "metrics": "metric",
    "param": "param",
    "params": "param",
    "parameter": "param",
    "parameters": "param",
    "tag": "tag",
    "tags": "tag",
    "attribute": "attribute",
    "attributes": "attribute",
    "attr": "attribute",
    "run": "attribute",
}


@dataclass(frozen=True, slots=True)
class Clause:
    """One comparison: ``<entity>.<key> <op> <value>``.

    ``op`` is one of ``= != < <= > >= LIKE ILIKE IN NOT IN IS NULL IS NOT NULL``; ``value``
    is a float, a string, a tuple of strings, or None for the null tests.
    """

    entity: Entity
    key: str
    op: str
    value: float | str | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class BoolOp:
    """``AND`` or ``OR`` of two or more sub-filters."""

    op: Literal["AND", "OR"]
    items: tuple[Clause | BoolOp, ...]


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One ``order_by`` entry."""

    entity: Entity
    key: str
    ascending: bool


def _unquote(text: str) -> str:
    quote = text[0]
    body = text[1:-1]
    if quote == "`":
        return body
    if quote == "'":
        body = body.replace("''", "'")
    return body.replace("\\" + quote, quote).replace("\\\\", "\\")


@v_args(inline=True)
class _ToTree(Transformer):
    def plain(self, ident: Token) -> tuple[Entity, str]:
        text = str(ident)
        prefix, dot, rest = text.partition(".")
        if dot and prefix.lower() in _PREFIXES:
            if not rest:
                raise _FilterError(f"missing key after '{prefix}.'", ident)
            return _PREFIXES[prefix.lower()], rest
        return "attribute", text

    def prefixed(self, ident: Token, quoted: Token) -> tuple[Entity, str]:
        text = str(ident)
        if not text.endswith(".") or text[:-1].lower() not in _PREFIXES:
            raise _FilterError(
                f"expected metrics., params., tags. or attributes. before {quoted}", ident
            )
        return _PREFIXES[text[:-1].lower()], _unquote(str(quoted))

    def quoted(self, quoted: Token) -> tuple[Entity, str]:
        return "attribute", _unquote(str(quoted))

    def value(self, token: Token) -> float | str:
        if token.type == "NUMBER":
            return float(token)
        return _unquote(str(token))

    def values(self, *items: Token) -> tuple[str, ...]:
        return tuple(_unquote(str(t)) for t in items)

    def compare(self, lhs: tuple[Entity, str], op: Token, value: float | str) -> Clause:
        name = str(op).upper()
        name = {"==": "=", "<>": "!="}.get(name, name)
        return Clause(lhs[0], lhs[1], name, value)

    def is_null(self, lhs: tuple[Entity, str], _is: Token, _null: Token) -> Clause:
        return Clause(lhs[0], lhs[1], "IS NULL", None)

    def is_not_null(self, lhs: tuple[Entity, str], *_: Token) -> Clause:
        return Clause(lhs[0], lhs[1], "IS NOT NULL", None)

    def in_(self, lhs: tuple[Entity, str], _in: Token, values: tuple[str, ...]) -> Clause:
        return Clause(lhs[0], lhs[1], "IN", values)

    def not_in(
        self, lhs: tuple[Entity, str], _not: Token, _in: Token, values: tuple[str, ...]
    ) -> Clause:
        return Clause(lhs[0], lhs[1], "NOT IN", values)

    def and_expr(self, *items: object) -> BoolOp:
        return BoolOp("AND", tuple(i for i in items if not isinstance(i, Token)))  # type: ignore[misc]

    def or_expr(self, *items: object) -> BoolOp:
        return BoolOp("OR", tuple(i for i in items if not isinstance(i, Token)))  # type: ignore[misc]

    def order(self, lhs: tuple[Entity, str], direction: Token | None = None) -> OrderKey:
        ascending = direction is None or str(direction).upper() == "ASC"
        return OrderKey(lhs[0], lhs[1], ascending)


class _FilterError(Exception):
    def __init__(self, message: str, token: Token) -> None:
        super().__init__(message)
        self.token = token


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(_GRAMMAR, start=["filter", "order"], parser="lalr", maybe_placeholders=True)


def _pointer(text: str, column: int) -> str:
    return f"{text}\n{' ' * max(column - 1, 0)}^"


def _parse(text: str, start: str, what: str) -> object:
    try:
        tree = _parser().parse(text, start=start)
        return _ToTree().transform(tree)
    except UnexpectedInput as exc:
        column = getattr(exc, "column", 0) or 0
        token = getattr(exc, "token", None)
        if token is not None and getattr(token, "type", "") == "$END":
            problem = "it ends too early"
            column = len(text.rstrip()) + 1
        elif token is not None:
            problem = f"unexpected {str(token)!r}"
        else:
            pos = exc.pos_in_stream
            char = text[pos] if pos is not None and pos < len(text) else ""
            problem = f"unexpected character {char!r}" if char else "unexpected input"
        raise InvalidInput(
            f"invalid {what} at column {column}: {problem}\n{_pointer(text, column)}",
            details={what.replace(" ", "_"): text, "column": column},
        ) from None
    except Exception as exc:  # lark wraps transformer errors in VisitError
        inner = getattr(exc, "orig_exc", exc)
        if isinstance(inner, _FilterError):
            column = inner.token.column or 0
            raise InvalidInput(
                f"invalid {what} at column {column}: {inner}\n{_pointer(text, column)}",
                details={what.replace(" ", "_"): text, "column": column},
            ) from None
        raise


@lru_cache(maxsize=512)
def _parse_cached(text: str, start: str, what: str) -> object:
    # Parsed trees are immutable (frozen dataclasses and tuples): safe to share.
    return _parse(text, start, what)


def parse_filter(text: str | None) -> Clause | BoolOp | None:
    """Parse a filter string; ``None`` or blank means "no filter".

    Raises:
        InvalidInput: with the column of the offending token and a caret under it.
    """
    if text is None or not text.strip():
        return None
    return _parse_cached(text, "filter", "filter")  # type: ignore[return-value]


def parse_order_by(entries: list[str] | None) -> list[OrderKey]:
    """Parse ``order_by`` entries such as ``"metrics.acc DESC"``."""
    keys: list[OrderKey] = []
    for entry in entries or []:
        if not isinstance(entry, str) or not entry.strip():
            raise InvalidInput(f"order_by entry {entry!r} is empty")
        keys.append(_parse_cached(entry, "order", "order_by"))  # type: ignore[arg-type]
    return keys
