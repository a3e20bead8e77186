"""Sweeps of the Sybil simulation (:mod:`lattice.sybil.simulation`), their §15 targets
(P14), and the report they write: a Markdown table of every run and a PNG with, for each
attack, honest delivery and the honest share of relayed bytes against the number of Sybils,
one line per defence set.

>>> results = sweep(honest=20, sybils=(10, 20), peers=4, duration=2.0,
...                 scenarios=("junk",), defence_sets=("none", "all"))
>>> [r.config.sybils for r in results if r.config.scenario == "junk"]
[10, 10, 20, 20]
>>> failures(results)
[]
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from lattice.errors import InvalidArgument
from lattice.sybil.simulation import DEFENCE_SETS, SCENARIOS, SimConfig, SimResult, run

__all__ = [
    "ATTACKS",
    "MAX_P99_RATIO",
    "MAX_SCENARIO_SECONDS",
    "MIN_EVENTS_PER_SECOND",
    "MIN_RELAYED_SHARE",
    "failures",
    "speed_failures",
    "sweep",
    "sweep_digest",
    "write_report",
]

#: The scenarios with an attack in them (``none`` is their baseline).
ATTACKS = tuple(s for s in SCENARIOS if s != "none")
#: §15 P14, with every defence on: p99 latency at most this times the no-attack run's ...
MAX_P99_RATIO = 1.5
#: ... the honest share of relayed bytes at least this, and every honest op delivered.
MIN_RELAYED_SHARE = 0.95
#: The simulation's speed (events per second) and a scenario's wall time at full size.
MIN_EVENTS_PER_SECOND = 200_000
MAX_SCENARIO_SECONDS = 60.0


def sweep(
    *,
    honest: int = 1000,
    sybils: Sequence[int] = (1000, 2000, 4000),
    peers: int = 30,
    duration: float = 10.0,
    seed: int = 1,
    scenarios: Sequence[str] = ATTACKS,
    defence_sets: Sequence[str] = tuple(DEFENCE_SETS),
    progress: Callable[[SimResult], None] | None = None,
) -> list[SimResult]:
    """Run the baseline (no attack, per defence set) and every scenario × Sybil count ×
    defence set; ``progress`` hears of each run as it ends."""
    unknown = [d for d in defence_sets if d not in DEFENCE_SETS]
    if unknown:
        raise InvalidArgument(f"unknown defence sets {unknown}; known: {list(DEFENCE_SETS)}")
    plan = [("none", 0, d) for d in defence_sets]
    plan += [(s, n, d) for s in scenarios if s != "none" for n in sybils for d in defence_sets]
    results = []
    for scenario, n, name in plan:
        config = SimConfig(
            honest=honest,
            sybils=n,
            peers=peers,
            scenario=scenario,
            defences=DEFENCE_SETS[name],
            seed=seed,
            duration=duration,
        )
        result = run(config)
        results.append(result)
        if progress is not None:
            progress(result)
    return results


def _baseline(results: Iterable[SimResult], defences: frozenset[str]) -> SimResult | None:
    return next(
        (r for r in results if r.config.scenario == "none" and r.config.defences == defences),
        None,
    )


def failures(results: Sequence[SimResult]) -> list[str]:
    """What misses P14's targets among runs with every defence on (empty: all met)."""
    out = []
    for r in results:
        c = r.config
        if c.defences != DEFENCE_SETS["all"] or c.scenario == "none":
            continue
        where = f"{c.scenario} with {c.sybils} Sybils"
        if r.honest_delivery < 1.0:
            out.append(f"{where}: honest delivery {r.honest_delivery:.4f} < 100%")
        if r.relayed_share < MIN_RELAYED_SHARE:
            out.append(f"{where}: honest relayed share {r.relayed_share:.3f} < {MIN_RELAYED_SHARE}")
        base = _baseline(results, c.defences)
        if base is None:
            out.append(f"{where}: no baseline run to compare latency with")
        elif r.latency_p99 > MAX_P99_RATIO * base.latency_p99:
            ratio = r.latency_p99 / base.latency_p99
            out.append(f"{where}: p99 latency {ratio:.2f}× the no-attack run's")
    return out


def speed_failures(results: Sequence[SimResult]) -> list[str]:
    """What misses P14's speed targets (wall-clock: benchmarks only, never a unit test)."""
    out = []
    for r in results:
        where = f"{r.config.scenario}/{r.defence_name} with {r.config.sybils} Sybils"
        if r.wall > MAX_SCENARIO_SECONDS:
            out.append(f"{where}: {r.wall:.1f} s > {MAX_SCENARIO_SECONDS:.0f} s")
    total = sum(r.events for r in results) / sum(r.loop for r in results)
    if total < MIN_EVENTS_PER_SECOND:
        out.append(f"simulation: {total:,.0f} events/s < {MIN_EVENTS_PER_SECOND:,}")
    return out


def sweep_digest(results: Iterable[SimResult]) -> str:
    """One digest over the runs' digests: equal for two sweeps with one seed."""
    h = hashlib.blake2b(digest_size=16)
    for r in results:
        h.update(bytes.fromhex(r.digest))
    return h.hexdigest()


def _table(results: Sequence[SimResult]) -> str:
    head = (
        "| scenario | Sybils | defences | delivery | p50 ms | p99 ms | wire | relayed "
        "| validated | cut |"
    )
    rows = [head, "|" + "---|" * 10]
    for r in results:
        rows.append(
            f"| {r.config.scenario} | {r.config.sybils} | {r.defence_name} "
            f"| {r.honest_delivery:.2%} "
            f"| {r.latency_p50 * 1e3:.1f} | {r.latency_p99 * 1e3:.1f} | {r.wire_share:.1%} "
            f"| {r.relayed_share:.1%} | {r.validated_share:.1%} | {r.cut} |"
        )
    return "\n".join(rows)


def write_report(results: Sequence[SimResult], out: str | Path) -> tuple[Path, Path]:
    """Write ``report.md`` and ``sybil.png`` into directory ``out``; returns both paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    attacks = [s for s in ATTACKS if any(r.config.scenario == s for r in results)]
    fig, axes = plt.subplots(
        2, max(1, len(attacks)), figsize=(4 * max(1, len(attacks)), 6.5), squeeze=False
    )
    for col, scenario in enumerate(attacks):
        runs = [r for r in results if r.config.scenario == scenario]
        for name in dict.fromkeys(r.defence_name for r in runs):
            line = sorted(
                (r for r in runs if r.defence_name == name), key=lambda r: r.config.sybils
            )
            xs = [r.config.sybils for r in line]
            axes[0][col].plot(xs, [100 * r.honest_delivery for r in line], marker="o", label=name)
            axes[1][col].plot(xs, [100 * r.relayed_share for r in line], marker="o", label=name)
        axes[0][col].set_title(scenario)
        axes[0][col].set_ylim(-5, 105)
        axes[1][col].set_ylim(-5, 105)
        axes[1][col].set_xlabel("Sybil identities")
    axes[0][0].set_ylabel("honest delivery (%)")
    axes[1][0].set_ylabel("honest share of relayed bytes (%)")
    axes[0][0].legend(title="defences", fontsize="small")
    fig.tight_layout()
    png = out / "sybil.png"
    fig.savefig(png, dpi=100)
    plt.close(fig)
    c = results[0].config if results else SimConfig()
    missed = failures(results)
    md = out / "report.md"
    md.write_text(
        "# Sybil simulation (DESIGN §11, §15 P14)\n\n"
        f"{c.honest} honest clients, {c.peers} registered peers, {c.duration:g} s of "
        f"traffic, seed {c.seed}; digest `{sweep_digest(results)}`.\n\n"
        f"{_table(results)}\n\n"
        + (
            "Every P14 target met with all defences on.\n"
            if not missed
            else "Missed:\n\n" + "\n".join(f"- {m}" for m in missed) + "\n"
        )
        + f"\n![honest delivery and relayed share]({png.name})\n"
    )
    return md, png
