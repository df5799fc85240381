"""Problems, not sentences (DESIGN §10.1): what the core has to say, as a code and its parameters.

The core never words anything for a reader. A `Problem` is a stable code (`"eligibility.high_cost.met"`) with
JSON-safe parameters (integers in fen, Decimals as strings, codes); the shell's one catalogue
(`review/messages.py`) renders it in the reader's language. Stored records (screening results, import reports,
notices, register data) keep the code and parameters, so an old record reads in whatever language its reader
chose, and changing a wording never rewrites history.
"""
from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

Param = str | int | bool | None | list[str]


class Problem:
    """An immutable code + parameters pair; equal when both are equal."""

    __slots__ = ("code", "params")

    def __init__(self, code: str, **params: Any) -> None:
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "params", {key: _json_safe(value) for key, value in params.items()})

    code: str
    params: Mapping[str, Param]

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Problem is immutable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Problem) and (self.code, self.params) == (other.code, other.params)

    def __hash__(self) -> int:
        return hash((self.code, tuple(sorted((k, str(v)) for k, v in self.params.items()))))

    def __repr__(self) -> str:
        args = "".join(f", {key}={value!r}" for key, value in self.params.items())
        return f"Problem({self.code!r}{args})"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its JSON form: import rows are checked in worker processes, which send their problems back."""
        return (Problem.from_json, (self.to_json(),))

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Problem:
        return cls(str(data["code"]), **dict(data.get("params") or {}))


def _json_safe(value: Any) -> Param:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (tuple, list, set, frozenset)):
        return [str(item) for item in (sorted(value) if isinstance(value, (set, frozenset)) else value)]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


class ProblemError(Exception):
    """A refusal from the core that carries its `Problem`; the shell words it, `str()` is only the code for logs."""

    def __init__(self, code: str, **params: Any) -> None:
        self.problem = Problem(code, **params)
        super().__init__(code)
