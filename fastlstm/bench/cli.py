"""Command line: ``python -m fastlstm.bench`` and ``fastlstm bench``."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from collections.abc import Sequence

from .config import _INSTALL_BENCH, PROJECTION_CONFIGS, REFERENCE_CONFIGS, Config, parse_config
from .report import format_report, plot_speedups, write_json
from .run import run_benchmarks

logger = logging.getLogger(__name__)


def _parser(prog: str) -> argparse.ArgumentParser:
    import numba

    default_threads = min(2, numba.config.NUMBA_NUM_THREADS)
    p = argparse.ArgumentParser(
        prog=prog,
        description="Time fastlstm's LSTM layer against torch.nn.LSTM (or a NumPy LSTM without PyTorch): "
        "training step, inference, GFLOP/s, peak memory.",
        epilog="Reference configurations (B,T,I,H dtype): "
        + "; ".join(f"{c.name} {c.B},{c.T},{c.I},{c.H} {c.dtype}" for c in REFERENCE_CONFIGS.values())
        + ". Projected (proj_size P; with the torch baseline only): "
        + "; ".join(f"{c.name} {c.B},{c.T},{c.I},{c.H},P{c.P} {c.dtype}" for c in PROJECTION_CONFIGS.values())
        + ".",
    )
    p.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="NAME:B,T,I,H,dtype[,P]",
        help="add a configuration (repeatable), e.g. mine:32,100,8,64,float32; a sixth field P "
        "projects h to P features (proj_size, 0 < P < H; needs the torch baseline)",
    )
    p.add_argument("--only", metavar="NAMES", help="comma-separated configuration names to run")
    p.add_argument("--repeat", type=int, default=20, help="samples per median (default 20)")
    p.add_argument(
        "--threads",
        type=int,
        default=default_threads,
        help=f"threads for fastlstm and PyTorch (default {default_threads})",
    )
    p.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="write a bar chart of the speed-ups")
    p.add_argument("--no-torch", action="store_true", help="compare with the NumPy reference LSTM")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    p.add_argument(
        "--profile",
        action="store_true",
        help="also time each part of a training step (input projection, recurrent products, "
        "elementwise, weight and input gradients, checks, Python) on one thread",
    )
    p.add_argument(
        "--cold",
        action="store_true",
        help="also time import + first forward/backward in a fresh process (empty and warm numba cache)",
    )
    p.add_argument(
        "--contention",
        action="store_true",
        help="time the training step at the default threads and at 1 thread, quiet, beside a busy process "
        "(started and killed by this command) and as two fastlstm processes at once; prints the medians "
        "and the ratios default/1-thread (--only picks the configurations, --repeat the samples)",
    )
    p.add_argument(
        "--forecast",
        action="store_true",
        help="instead: panel forecasting throughput, fastlstm's Forecaster beside statsforecast's "
        "AutoETS and neuralforecast's LSTM (options: --forecast --help)",
    )
    p.add_argument(
        "--situations",
        default="quiet,busy,pair",
        metavar="LIST",
        help="with --contention: which of quiet,busy,pair to run (default all)",
    )
    return p


def _select(args, parser, with_torch: bool) -> list[Config]:
    """The configurations to run: ``--only``'s, else the reference table, the projected rows
    when the torch baseline runs, and every ``--config``."""
    configs = {**REFERENCE_CONFIGS, **PROJECTION_CONFIGS}
    for text in args.config:
        try:
            cfg = parse_config(text)
        except ValueError as exc:
            parser.error(str(exc))
        if cfg.name in configs:
            parser.error(f"--config: the name {cfg.name!r} is taken; choose another")
        configs[cfg.name] = cfg
    if args.only is None:
        return [c for c in configs.values() if with_torch or c.name not in PROJECTION_CONFIGS]
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in configs]
    if unknown:
        parser.error(f"--only: unknown configuration(s) {unknown}; known: {sorted(configs)}")
    return [configs[n] for n in names]


def main(argv: Sequence[str] | None = None, prog: str = "python -m fastlstm.bench") -> int:
    """Command-line entry point (``python -m fastlstm.bench`` and ``fastlstm bench``).

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (``sys.argv[1:]`` when None).
    prog : str
        The program name shown in ``--help`` and usage errors.

    Returns
    -------
    int
        0, or 1 if a correctness check failed (the figures are still reported).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--forecast" in argv:
        from .forecast import main as forecast_main

        return forecast_main([a for a in argv if a != "--forecast"], prog=f"{prog} --forecast")
    parser = _parser(prog)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat: expected >= 1, got {args.repeat}")
    import numba

    if not 1 <= args.threads <= numba.config.NUMBA_NUM_THREADS:
        parser.error(
            f"--threads: expected 1 to NUMBA_NUM_THREADS = {numba.config.NUMBA_NUM_THREADS}, "
            f"got {args.threads}"
        )
    with_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    # --contention's default rows stay the reference table (its figures compare with earlier runs)
    configs = _select(args, parser, with_torch and not args.contention)
    projected = [c.name for c in configs if c.P]
    if projected and not with_torch:
        parser.error(
            f"--config {projected[0]}: P (proj_size) needs the torch baseline "
            "(the NumPy reference has no projection)"
        )
    if args.plot:  # fail before measuring, not after
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            parser.error(f"--plot needs matplotlib: {_INSTALL_BENCH}")

    def progress(msg: str) -> None:
        print(f"[bench] {msg}", file=sys.stderr, flush=True)

    if args.contention:
        from .contention import SITUATIONS, format_contention, run_contention

        situations = [s.strip() for s in args.situations.split(",") if s.strip()]
        bad = [s for s in situations if s not in SITUATIONS]
        if bad or not situations:
            parser.error(f"--situations: expected some of {','.join(SITUATIONS)}, got {args.situations!r}")
        report = run_contention(configs, repeat=args.repeat, situations=situations, progress=progress)
        print(format_contention(report))
        if args.json:
            write_json(report, args.json)
            print(f"wrote {args.json}")
        return 0

    report = run_benchmarks(
        configs,
        repeat=args.repeat,
        threads=args.threads,
        use_torch=not args.no_torch,
        memory=not args.no_memory,
        cold=args.cold,
        progress=progress,
    )
    report["argv"] = list(sys.argv[1:] if argv is None else argv)
    if args.profile:
        from .profile import format_profile, profile_config

        # the profile times the fast drivers' parts: a projected layer (P) runs none of them
        profiled = [cfg for cfg in configs if not cfg.P]
        for cfg in profiled:
            progress(f"{cfg.name}: profile")
        profiles = {
            cfg.name: profile_config(cfg, repeat=max(3, min(args.repeat, 10)), threads=args.threads)
            for cfg in profiled
        }
        report["profile"] = profiles
    print(format_report(report))
    if args.profile:
        print()
        baseline = {
            e["config"]["name"]: (e["training"]["baseline"]["median"], e["inference"]["baseline"]["median"])
            for e in report["results"]
        }
        print(format_profile(report["profile"], baseline))
    if args.json:
        write_json(report, args.json)
        print(f"wrote {args.json}")
    if args.plot:
        plot_speedups(report, args.plot)
        print(f"wrote {args.plot}")
    failed = [e["config"]["name"] for e in report["results"] if not e["check"]["passed"]]
    if failed:
        print(f"correctness check FAILED for: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
