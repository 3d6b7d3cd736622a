"""Run Rapport's benchmarks and print a markdown table of the results.

    python benchmarks/run.py [--backend sqlite|postgres|both] [--quick]
                             [--only SCENARIO ...] [--profile] [--postgres-url URL]

Without ``--backend``, both backends run when PostgreSQL answers, else SQLite alone.
``--quick`` divides the counts by ten (a smoke run; its figures are not comparable).
``--profile`` adds, per scenario, the functions where the measured time went (stderr); for
the API scenario, a py-spy pass over each server process.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.backends import BACKENDS, DEFAULT_POSTGRES_URL, deployment, postgres_problem  # noqa: E402
from benchmarks.harness import QUICK_FACTOR, Bench, Result, Scale, markdown_table  # noqa: E402
from benchmarks.scenarios import SCENARIOS  # noqa: E402

PROFILE_LINES = 25


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    backends = _backends(args.backend, args.postgres_url)
    scale = Scale().shrunk(QUICK_FACTOR) if args.quick else Scale()
    names = [name for name in SCENARIOS if not args.only or name in args.only]  # always in suite order
    results: list[Result] = []
    for backend in backends:
        results += run_backend(backend, scale, names, args.postgres_url, args.profile)
    print(markdown_table(results))
    failed = [r for r in results if r.status == "FAIL"]
    return 1 if failed else 0


def run_backend(backend: str, scale: Scale, names: list[str], postgres_url: str,
                profile: bool) -> list[Result]:
    results: list[Result] = []
    with deployment(backend, postgres_url) as app:
        bench = Bench(app, backend, scale)
        for name in names:
            _log(f"{backend}: {SCENARIOS[name].TITLE} …")
            bench.profiler = cProfile.Profile() if profile else None
            started = time.perf_counter()
            results += SCENARIOS[name].run(bench)
            _log(f"{backend}: {SCENARIOS[name].TITLE} done in {time.perf_counter() - started:.1f} s")
            if bench.profiler is not None and bench.profiler.getstats():  # (h) profiles its servers itself
                _log(_profile_report(bench.profiler))
    return results


def _backends(choice: str | None, postgres_url: str) -> list[str]:
    if choice in BACKENDS:
        if choice == "postgres":
            _require_postgres(postgres_url)
        return [choice]
    if choice == "both":
        _require_postgres(postgres_url)
        return list(BACKENDS)
    problem = postgres_problem(postgres_url)
    if problem is not None:
        _log(f"PostgreSQL is not reachable ({problem}); running SQLite only")
        return ["sqlite"]
    return list(BACKENDS)


def _require_postgres(url: str) -> None:
    problem = postgres_problem(url)
    if problem is not None:
        raise SystemExit(f"PostgreSQL at {url} is not reachable: {problem}")


def _profile_report(profiler: cProfile.Profile) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats(pstats.SortKey.CUMULATIVE).print_stats(PROFILE_LINES)
    stats.sort_stats(pstats.SortKey.TIME).print_stats(PROFILE_LINES)
    return out.getvalue()


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=(*BACKENDS, "both"),
                        help="default: both when PostgreSQL is reachable, else sqlite")
    parser.add_argument("--quick", action="store_true", help="counts divided by ten: a smoke run")
    parser.add_argument("--only", nargs="+", choices=list(SCENARIOS), metavar="SCENARIO",
                        help=f"run only these scenarios ({', '.join(SCENARIOS)})")
    parser.add_argument("--profile", action="store_true",
                        help="print the top functions of each scenario's measured code (stderr)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL,
                        help="an admin connection; a scratch database is created beside it (default: %(default)s)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
