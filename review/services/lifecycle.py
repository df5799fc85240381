"""How a service takes a step of a lifecycle the core defines (workflows/states.py: statements, periods, appeals,
decision versions): the core's transition gives the next state, or refuses with its problem, worded here once as
the ServiceError the page or the API shows; nothing was changed."""
from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from review.messages import problem_text
from review.services.context import ServiceError
from workflows.problems import ProblemError


def next_state(transition: Callable[..., StrEnum], *args: object) -> str:
    """The stored value of the state `transition(*args)` gives, for the caller to assign with the fields its
    CHECKs tie to that state."""
    try:
        return transition(*args).value
    except ProblemError as refused:
        raise ServiceError(problem_text(refused.problem)) from refused
