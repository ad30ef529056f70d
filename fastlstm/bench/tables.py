"""Markdown tables of one saved benchmark report, for the README and docs/benchmarks.md.

The published figures come from one JSON file written by ``python -m fastlstm.bench
--json FILE`` and committed under ``docs/bench/``. Each table in a Markdown file sits
between two comments that name the file and the table::

    <!-- bench-table:main docs/bench/FILE.json -->
    ...generated...
    <!-- /bench-table -->

``main`` is fastlstm's layer against the baseline (training step, inference, GFLOP/s,
peak memory) under a header that names the machine; ``torch`` is
``fastlstm.torch.LSTM`` against ``torch.nn.LSTM``. Paths are relative to the repository
root (the current directory of the command)::

    python -m fastlstm.bench.tables docs/bench/FILE.json              # print both tables
    python -m fastlstm.bench.tables --write README.md docs/benchmarks.md
    python -m fastlstm.bench.tables --source docs/bench/NEW.json --write README.md docs/benchmarks.md
    python -m fastlstm.bench.tables --note "a shared machine" docs/bench/FILE.json

``--write`` regenerates every marked block from the file its marker names (``--source``
first points every marker at another file); ``--check`` exits with 1 where a block is
out of date; ``--note`` stores a sentence about the run (such as the machine's load) in
the JSON, which the header then shows; ``--plot FILE.png`` draws the speed-ups of the
same file. ``tests/test_docs.py`` checks that the committed blocks are what this
module renders.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence

__all__ = ["KINDS", "find_blocks", "render", "render_main", "render_torch", "update_text"]

#: The tables a marker can name.
KINDS = ("main", "torch")

_BLOCK = re.compile(
    r"(?P<open><!-- bench-table:(?P<kind>[a-z]+) (?P<path>[^ ]+) -->\n)"
    r"(?P<body>.*?)"
    r"(?P<close><!-- /bench-table -->)",
    re.DOTALL,
)


def _ms(seconds: float | None) -> str:
    """Milliseconds with three significant figures (0.050, 4.82, 46.8, 119)."""
    if seconds is None:
        return "-"
    v = seconds * 1e3
    if v < 1:
        return f"{v:.3f}"
    if v < 10:
        return f"{v:.2f}"
    if v < 100:
        return f"{v:.1f}"
    return f"{v:.0f}"


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def _mib(mem: dict | None) -> str:
    if not mem or "peak_bytes" not in mem:
        return "-"
    return f"{mem['peak_bytes'] / 2**20:.1f}"


def _label(entry: dict) -> str:
    c = entry["config"]
    dims = f"{c['B']}, {c['T']}, {c['I']}, {c['H']}"
    if c["dtype"] != "float32":
        dims += f", {c['dtype']}"
    if c.get("P"):
        dims += f", proj_size {c['P']}"
    return f"{c['name']} ({dims})"


def _isa(env: dict) -> str:
    cpu = env.get("cpu", {})
    bits = None
    for path in (env.get("code_path") or {}).values():
        m = re.search(r"(\d+)-bit", str(path.get("recurrent", "")))
        if m:
            bits = int(m.group(1))
            break
    name = "AVX-512" if cpu.get("avx512f") else "AVX2" if cpu.get("avx2") else "no AVX2"
    if cpu.get("fma"):
        name += " + FMA"
    return f"{name}, {bits}-bit kernels" if bits else name


def _baseline_name(report: dict) -> str:
    return "torch.nn.LSTM" if report["baseline"] == "torch" else report["baseline_description"]


def _header(report: dict, source: str) -> list[str]:
    env = report.get("environment", {})
    cpu = env.get("cpu", {})
    versions = [f"fastlstm {env.get('fastlstm', '?')}", f"Numba {env.get('numba', '?')}"]
    versions.append(f"NumPy {env.get('numpy', '?')}")
    if "torch" in env:
        versions.append(f"PyTorch {env['torch']['version']}")
    llvm = f" (LLVM: {cpu['llvm_cpu']})" if cpu.get("llvm_cpu") else ""
    matmul = ", ".join(f"{dt} {m['gflops']:.0f}" for dt, m in report.get("matmul", {}).items())
    lines = [
        f"**Machine**: {cpu.get('model', '?')}{llvm}, {_isa(env)}; {report['threads']} threads "
        f"for both libraries; {', '.join(versions)}. Medians of {report['repeat']} samples, "
        f"{report.get('created', '?')[:10]}, from `{source}` "
        f"(`python -m fastlstm.bench {' '.join(report.get('argv', []))}`). "
        f"NumPy's 1024x1024 matmul in the same run, GFLOP/s: {matmul}.",
        "",
        f"Speed-up = {_baseline_name(report)} time / fastlstm time, both timed in the same run, "
        "one after the other, with the same threads: a same-run ratio. Absolute times move "
        "with the machine's load; compare ratios, not milliseconds, across runs.",
    ]
    if report.get("note"):
        lines[-1] += " " + report["note"].strip()
    return lines


def render_main(report: dict, source: str) -> str:
    """The header naming the machine and the table of fastlstm's layer against the baseline."""
    base = report["baseline"]
    lines = _header(report, source) + [
        "",
        f"| config (B, T, I, H) | training step: fastlstm / {base} | speed-up | inference: "
        f"fastlstm / {base} | speed-up | GFLOP/s (share of matmul) | peak MiB: fastlstm / {base} |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in report["results"]:
        tr, inf = e["training"], e["inference"]
        mem = e.get("memory") or {}
        f = tr["fastlstm"]
        lines.append(
            f"| {_label(e)}{' *' if e['streaming'] else ''} "
            f"| {_ms(tr['fastlstm']['median'])} / {_ms(tr['baseline']['median'])} ms | {_x(tr['speedup'])} "
            f"| {_ms(inf['fastlstm']['median'])} / {_ms(inf['baseline']['median'])} ms "
            f"| {_x(inf['speedup'])} "
            f"| {f['gflops']:.0f} ({100 * f['matmul_share']:.0f}%) "
            f"| {_mib(mem.get('fastlstm'))} / {_mib(mem.get('baseline'))} |"
        )
    if any(e["streaming"] for e in report["results"]):
        lines += [
            "",
            "\\* streaming: one time step per call with the state carried over; fastlstm through "
            "`lstm.stepper().step(x_t)`, so inference is the latency of one step.",
        ]
    cold = report.get("cold_start") or {}
    parts = [
        f"{label} {cold[key]['process_wall_s']:.1f} s (import {cold[key]['import_s']:.2f} s, "
        f"first forward/backward {cold[key]['first_call_s']:.2f} s)"
        for key, label in (("first_ever", "empty Numba cache"), ("warm_cache", "warm cache"))
        if isinstance(cold.get(key), dict) and "process_wall_s" in cold[key]
    ]
    if parts:
        lines += ["", "Cold start (a new process, `tiny`): " + "; ".join(parts) + "."]
    return "\n".join(lines) + "\n"


def render_torch(report: dict, source: str) -> str:
    """The table of ``fastlstm.torch.LSTM`` against ``torch.nn.LSTM`` (same run as ``main``)."""
    rows = [e for e in report["results"] if "fastlstm_torch" in e["training"]]
    if not rows:
        return f"(`{source}` has no `fastlstm.torch.LSTM` timings: the run had no PyTorch.)\n"
    lines = [
        f"From `{source}`, the run of the Performance table (same machine, threads and "
        "samples); speed-up = torch.nn.LSTM time / fastlstm.torch.LSTM time.",
        "",
        "| config (B, T, I, H) | training step: fastlstm.torch / torch.nn.LSTM | speed-up "
        "| inference: fastlstm.torch / torch.nn.LSTM | speed-up |",
        "|---|---|---|---|---|",
    ]
    for e in rows:
        tr, inf = e["training"], e["inference"]
        lines.append(
            f"| {_label(e)} "
            f"| {_ms(tr['fastlstm_torch']['median'])} / {_ms(tr['baseline']['median'])} ms "
            f"| {_x(tr['speedup_fastlstm_torch'])} "
            f"| {_ms(inf['fastlstm_torch']['median'])} / {_ms(inf['baseline']['median'])} ms "
            f"| {_x(inf['speedup_fastlstm_torch'])} |"
        )
    return "\n".join(lines) + "\n"


def render(kind: str, report: dict, source: str) -> str:
    """The Markdown of table ``kind`` (one of :data:`KINDS`) for ``report`` read from ``source``."""
    if kind == "main":
        return render_main(report, source)
    if kind == "torch":
        return render_torch(report, source)
    raise ValueError(f"unknown table {kind!r}; expected one of {KINDS}")


def find_blocks(text: str) -> list[tuple[str, str, str]]:
    """The marked blocks of ``text``: ``(kind, source path, body)`` in order."""
    return [(m["kind"], m["path"], m["body"]) for m in _BLOCK.finditer(text)]


def _load(path: str, root: str) -> dict:
    with open(os.path.join(root, path)) as fh:
        return json.load(fh)


def update_text(text: str, root: str = ".", source: str | None = None) -> str:
    """``text`` with every marked block regenerated (from ``source`` if given, else its marker's)."""

    def repl(m: re.Match) -> str:
        path = source or m["path"]
        body = render(m["kind"], _load(path, root), path)
        return f"<!-- bench-table:{m['kind']} {path} -->\n{body}{m['close']}"

    return _BLOCK.sub(repl, text)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m fastlstm.bench.tables",
        description="Render the Markdown tables of one saved benchmark report (python -m fastlstm.bench "
        "--json FILE), or regenerate the marked tables of Markdown files from it.",
    )
    p.add_argument("report", nargs="?", help="a report to print (both tables)")
    p.add_argument(
        "--write", nargs="+", metavar="FILE.md", help="regenerate the marked blocks of these files"
    )
    p.add_argument("--check", nargs="+", metavar="FILE.md", help="exit 1 if a marked block is out of date")
    p.add_argument("--source", metavar="FILE.json", help="with --write: point every marker at this report")
    p.add_argument("--note", metavar="TEXT", help="store TEXT in the report as a note on the run")
    p.add_argument("--plot", metavar="FILE.png", help="bar chart of the report's speed-ups")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not (args.report or args.write or args.check):
        parser.error("give a report, --write or --check")
    if (args.note is not None or args.plot) and not args.report:
        parser.error("--note and --plot need a report")
    if args.report and args.note is not None:
        from .report import write_json

        report = _load(args.report, ".")
        report["note"] = args.note
        write_json(report, args.report)
    if args.report and args.plot:
        from .report import plot_speedups

        plot_speedups(_load(args.report, "."), args.plot)
    if args.report and not (args.note is not None or args.plot or args.write or args.check):
        report = _load(args.report, ".")
        print("\n".join(render(kind, report, args.report) for kind in KINDS), end="")
    status = 0
    for path in args.write or ():
        with open(path) as fh:
            text = fh.read()
        if not find_blocks(text):
            print(f"{path}: no <!-- bench-table:KIND FILE.json --> block", file=sys.stderr)
            status = 1
        new = update_text(text, source=args.source)
        if new != text:
            with open(path, "w") as fh:
                fh.write(new)
    for path in args.check or ():
        with open(path) as fh:
            text = fh.read()
        if update_text(text) != text:
            print(f"{path}: a bench table is out of date (python -m fastlstm.bench.tables --write {path})")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
