"""Payer-initiated record review: the seeded "double random" draw (DESIGN §7.2).

Hospitals dispute random draws, so the draw is a pure function of three recorded
things: the population snapshot, the plan configuration and a seed fixed before
the draw from a publicly announced value and the population hash. Anyone holding
them can re-run `draw` and obtain the same cases and the same `sample_hash`.

Randomness comes only from (seed, stratum, case id), never from the order of the
input, a clock or a process-wide generator, so shuffling the units cannot change
which cases are drawn.

Strata partition the population: every unit belongs to exactly one stratum, the
first one it qualifies for in draw order. This is stricter than merely excluding
cases already selected, and it is what makes the stratum figures usable for
extrapolation (each stratum's sample is a simple random sample of a population no
other stratum counts), and it guarantees that no case is sampled twice.
"""

import hashlib
import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation

from workflows.assignment import splitmix64
from workflows.money import Fen
from workflows.problems import ProblemError

ALGORITHM_VERSION = "sampling-1"
"""Recorded with each plan; any change to the draw below must change it."""

TOP_COST_RATIO = "risk:top_cost_ratio"
DRG_MISMATCH = "risk:drg_mismatch"
SINGLE_MCC = "risk:single_mcc"
SHORT_STAY_HIGH_WEIGHT = "risk:short_stay_high_weight"
ALL = "all"

_HEX64 = frozenset("0123456789abcdef")


class SamplingRefused(ProblemError, ValueError):
    """A plan configuration or published value a person typed, refused; `setting` names the PlanConfig field.

    Other ValueErrors here (a unit, a stored configuration, a seed or a population hash that is malformed) only
    arise from a bug or a damaged record, never from what a person typed, and stay plain ValueErrors."""


def _percent(value: Decimal) -> str:
    """A share as the forms show it: 0.125 is "12.5"."""
    return format((value * 100).normalize(), "f")


@dataclass(frozen=True)
class Unit:
    """One settled case as it stood in the population snapshot."""

    case_id: int
    hospital_id: int
    paid_fen: Fen
    cost_ratio: Decimal
    drg_mismatch: bool
    single_mcc: bool
    short_stay_high_weight: bool

    def __post_init__(self) -> None:
        if self.paid_fen < 0:
            raise ValueError(f"Case {self.case_id}: paid_fen must not be negative, got {self.paid_fen}.")
        if not isinstance(self.cost_ratio, Decimal) or not self.cost_ratio.is_finite() or self.cost_ratio < 0:
            raise ValueError(
                f"Case {self.case_id}: cost_ratio must be a finite Decimal of zero or more, "
                f"got {self.cost_ratio!r}."
            )


def _check_share(name: str, value: Decimal, *, allow_zero: bool) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise SamplingRefused("sampling.share_not_a_number", setting=name, value=str(value))
    if not (value >= 0 if allow_zero else value > 0) or value > 1:
        raise SamplingRefused("sampling.risk_share_out_of_range" if allow_zero else "sampling.share_out_of_range",
                              setting=name, percent=_percent(value))


def _check_count(name: str, value: int) -> None:
    # bool is an int subclass; True as a count is a typing error, not 1.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SamplingRefused("sampling.count_invalid", setting=name, value=str(value))


@dataclass(frozen=True)
class PlanConfig:
    """How many cases to draw from which strata.

    `share` is the simple random share of each remaining stratum. The risk options
    add strata drawn first: the `top_cost_ratio` units with the highest cost
    ratios (all of them are reviewed), and random shares of the units flagged for a
    DRG mismatch, an MCC resting on one secondary code, or a short stay with a high
    weight. A share of 0 or a count of 0 leaves that risk stratum out.
    """

    share: Decimal
    min_per_hospital: int = 0
    stratify_by_hospital: bool = True
    top_cost_ratio: int = 0
    mismatch_share: Decimal = Decimal(0)
    single_mcc_share: Decimal = Decimal(0)
    short_stay_share: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        _check_share("share", self.share, allow_zero=False)
        _check_count("min_per_hospital", self.min_per_hospital)
        _check_count("top_cost_ratio", self.top_cost_ratio)
        if not isinstance(self.stratify_by_hospital, bool):
            raise SamplingRefused("sampling.flag_invalid", setting="stratify_by_hospital",
                                  value=str(self.stratify_by_hospital))
        if self.min_per_hospital and not self.stratify_by_hospital:
            raise SamplingRefused("sampling.minimum_needs_strata", minimum=self.min_per_hospital)
        for name in ("mismatch_share", "single_mcc_share", "short_stay_share"):
            _check_share(name, getattr(self, name), allow_zero=True)

    def as_dict(self) -> dict[str, str]:
        """Every field as text, so the stored plan re-creates exactly this configuration."""
        return {
            "share": str(self.share),
            "min_per_hospital": str(self.min_per_hospital),
            "stratify_by_hospital": "true" if self.stratify_by_hospital else "false",
            "top_cost_ratio": str(self.top_cost_ratio),
            "mismatch_share": str(self.mismatch_share),
            "single_mcc_share": str(self.single_mcc_share),
            "short_stay_share": str(self.short_stay_share),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> "PlanConfig":
        """Inverse of `as_dict`. Every key is required: a default filled in later could
        differ from the one in force at the draw and silently change a re-run."""
        expected = {field.name for field in fields(cls)}
        missing, unknown = expected - data.keys(), data.keys() - expected
        if missing or unknown:
            raise ValueError(
                f"Stored plan configuration does not match {ALGORITHM_VERSION}: "
                f"missing {sorted(missing)}, unknown {sorted(unknown)}."
            )
        return cls(**{name: _PARSERS[name](name, data[name]) for name in expected})


def _parse_decimal(name: str, text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{name} must be a decimal number, got {text!r}.") from None


def _parse_int(name: str, text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"{name} must be a whole number, got {text!r}.")
    return int(text)


def _parse_bool(name: str, text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(f"{name} must be 'true' or 'false', got {text!r}.")
    return text == "true"


_PARSERS: dict[str, Callable[[str, str], Decimal | int | bool]] = {
    "share": _parse_decimal,
    "min_per_hospital": _parse_int,
    "stratify_by_hospital": _parse_bool,
    "top_cost_ratio": _parse_int,
    "mismatch_share": _parse_decimal,
    "single_mcc_share": _parse_decimal,
    "short_stay_share": _parse_decimal,
}


def _canonical_ratio(value: Decimal) -> str:
    """Equal ratios must hash equally however they were typed (1.5 and 1.50)."""
    return format(value.normalize(), "f")


def population_hash(units: Iterable[Unit]) -> str:
    """SHA-256 of the snapshot, recorded before the draw so the population cannot be
    edited afterwards. Sorted by case id so that the order rows were read in does
    not matter; every field is included so that any change shows."""
    rows = sorted(
        (
            unit.case_id,
            unit.hospital_id,
            unit.paid_fen,
            _canonical_ratio(unit.cost_ratio),
            unit.drg_mismatch,
            unit.single_mcc,
            unit.short_stay_high_weight,
        )
        for unit in units
    )
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def draw_seed(published_value: str, population_sha256: str) -> str:
    """Bind the seed to a value announced before the draw (e.g. a lottery number) and
    to the population snapshot, so staff can neither shop for seeds nor change the
    population after seeing the seed.

    Each part is prefixed with its byte length so that text cannot be moved from
    one part to the other and give the same seed.
    """
    if not published_value.strip():
        raise SamplingRefused("sampling.published_value_empty")
    if len(population_sha256) != 64 or not set(population_sha256) <= _HEX64:
        raise ValueError(
            f"population_sha256 must be 64 lowercase hex digits, got {population_sha256!r}."
        )
    digest = hashlib.sha256()
    for part in (published_value, population_sha256):
        encoded = part.encode()
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.hexdigest()


def unit_noise(seed: str, stratum: str, case_id: int) -> int:
    """A 64-bit draw key per (stratum, case) that nobody can steer without the seed.

    The first 8 bytes (big-endian) of SHA-256("{seed}|{stratum}|{case_id}") are
    passed through one SplitMix64 step. The key depends on nothing but these three
    values, so the input order cannot matter, and including the stratum name keeps
    a case's chances in one stratum independent of its key in another. Seeds are
    hex and stratum names contain no "|", so the joined text is unambiguous.
    """
    digest = hashlib.sha256(f"{seed}|{stratum}|{case_id}".encode()).digest()
    return splitmix64(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class Selection:
    case_id: int
    stratum: str


@dataclass(frozen=True)
class StratumSummary:
    """What extrapolation needs about a stratum: its population and how many were drawn."""

    name: str
    population_size: int
    population_paid_fen: Fen
    sample_size: int


@dataclass(frozen=True)
class Sample:
    selections: tuple[Selection, ...]
    strata: tuple[StratumSummary, ...]
    sample_hash: str


def _selections_hash(selections: Iterable[Selection]) -> str:
    """SHA-256 of the selections sorted by case id: the figure a re-run must match."""
    rows = sorted((selection.case_id, selection.stratum) for selection in selections)
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def _random_pick(seed: str, stratum: str, population: Sequence[Unit], n: int) -> list[Unit]:
    """The n units with the smallest noise; the case id breaks a (practically
    impossible) 64-bit tie so the result is still a total order."""
    return sorted(population, key=lambda unit: (unit_noise(seed, stratum, unit.case_id), unit.case_id))[:n]


def _share_size(share: Decimal, population_size: int) -> int:
    # Rounded up so that any non-empty stratum with a positive share yields a case.
    return min(math.ceil(share * population_size), population_size)


def draw(units: Sequence[Unit], config: PlanConfig, seed: str) -> Sample:
    """Draw the sample: risk strata first, then the remaining units by hospital (or
    as one stratum "all"). Strata with no units are left out of the summaries:
    they have nothing to review or extrapolate."""
    if not seed:
        raise ValueError("The seed is empty; derive it with draw_seed before drawing.")
    duplicates = sorted(case_id for case_id, count in Counter(unit.case_id for unit in units).items() if count > 1)
    if duplicates:
        raise ValueError(f"Each case may appear only once in the population; repeated: {duplicates[:10]}.")

    remaining = sorted(units, key=lambda unit: unit.case_id)
    strata: list[tuple[str, list[Unit], list[Unit]]] = []

    def take(name: str, population: list[Unit], chosen: list[Unit]) -> None:
        """Record a risk stratum and remove all its units, drawn or not, from later strata."""
        nonlocal remaining
        if population:
            strata.append((name, population, chosen))
            members = {unit.case_id for unit in population}
            remaining = [unit for unit in remaining if unit.case_id not in members]

    if config.top_cost_ratio:
        ranked = sorted(
            remaining,
            key=lambda unit: (-unit.cost_ratio, unit_noise(seed, TOP_COST_RATIO, unit.case_id), unit.case_id),
        )
        top = ranked[: config.top_cost_ratio]
        take(TOP_COST_RATIO, top, top)

    flagged_strata: tuple[tuple[str, Decimal, Callable[[Unit], bool]], ...] = (
        (DRG_MISMATCH, config.mismatch_share, lambda unit: unit.drg_mismatch),
        (SINGLE_MCC, config.single_mcc_share, lambda unit: unit.single_mcc),
        (SHORT_STAY_HIGH_WEIGHT, config.short_stay_share, lambda unit: unit.short_stay_high_weight),
    )
    for name, share, flagged in flagged_strata:
        if share:
            population = [unit for unit in remaining if flagged(unit)]
            take(name, population, _random_pick(seed, name, population, _share_size(share, len(population))))

    if config.stratify_by_hospital:
        by_hospital: dict[int, list[Unit]] = {}
        for unit in remaining:
            by_hospital.setdefault(unit.hospital_id, []).append(unit)
        groups = [(f"hospital:{hospital_id}", by_hospital[hospital_id]) for hospital_id in sorted(by_hospital)]
    else:
        groups = [(ALL, remaining)]
    for name, population in groups:
        if population:
            n = min(max(_share_size(config.share, len(population)), config.min_per_hospital), len(population))
            strata.append((name, population, _random_pick(seed, name, population, n)))

    selections = tuple(
        sorted(
            (Selection(unit.case_id, name) for name, _, chosen in strata for unit in chosen),
            key=lambda selection: selection.case_id,
        )
    )
    summaries = tuple(
        StratumSummary(name, len(population), sum(unit.paid_fen for unit in population), len(chosen))
        for name, population, chosen in strata
    )
    return Sample(selections, summaries, _selections_hash(selections))


def verify(units: Sequence[Unit], config: PlanConfig, seed: str, expected_sample_hash: str) -> bool:
    """Re-run the recorded draw and confirm it yields the recorded sample."""
    return draw(units, config, seed).sample_hash == expected_sample_hash
