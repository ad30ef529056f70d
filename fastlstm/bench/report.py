"""The report as a table, as JSON (written atomically) and as a chart."""

from __future__ import annotations

import json
import logging

import numpy as np

from .._atomic import atomic_write
from .._optional import import_optional

logger = logging.getLogger(__name__)


def _ms(t: float | None) -> str:
    if t is None:
        return "-"
    return f"{t * 1e3:.3f}" if t < 1e-2 else f"{t * 1e3:.1f}"


def _mib(mem: dict | None) -> str:
    if not mem or "peak_bytes" not in mem:
        return "-" if not mem else "err"
    return f"{mem['peak_bytes'] / 2**20:.1f}"


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}x"


def _times(block: dict) -> str:
    fast, base = block["fastlstm"]["median"], block["baseline"]["median"]
    return f"{_ms(fast):>9} {_ms(base):>10} {_x(block['speedup']):>8}"


def _dims(c: dict) -> str:
    """``B,T,I,H`` of a configuration, with ``,P..`` for a projection (proj_size)."""
    dims = "{B},{T},{I},{H}".format(**c)
    return dims + (f",P{c['P']}" if c.get("P") else "")


def _torch_module_rows(report: dict) -> list[str]:
    """Rows for ``fastlstm.torch.LSTM`` (timed only when the baseline is torch)."""
    rows = [e for e in report["results"] if "fastlstm_torch" in e["training"]]
    if not rows:
        return []
    lines = [
        "",
        "fastlstm.torch.LSTM (a torch.nn.Module on fastlstm's kernels) vs torch.nn.LSTM; "
        "speed-up = torch time / fastlstm.torch time",
    ]
    head = (
        f"{'config':<10} {'train ms':>9} {'torch ms':>10} {'speed-up':>8} "
        f"{'infer ms':>9} {'torch ms':>10} {'speed-up':>8}"
    )
    lines += [head, "-" * len(head)]
    for e in rows:
        cells = [
            f"{_ms(b['fastlstm_torch']['median']):>9} {_ms(b['baseline']['median']):>10} "
            f"{_x(b['speedup_fastlstm_torch']):>8}"
            for b in (e["training"], e["inference"])
        ]
        lines.append(f"{e['config']['name'] + ('*' if e['streaming'] else ''):<10} {cells[0]} {cells[1]}")
    return lines


def format_report(report: dict) -> str:
    """The readable table of a report.

    Parameters
    ----------
    report : dict
        As :func:`run_benchmarks` returns it (or read back from its JSON).
    """
    base = report["baseline"]
    env = report.get("environment", {})
    cpu = env.get("cpu", {})
    flags = ", ".join(f for f in ("avx2", "fma", "avx512f") if cpu.get(f))
    lines = [
        f"fastlstm {env.get('fastlstm', '?')} vs {report['baseline_description']}",
        f"threads {report['threads']}, median of {report['repeat']} samples; speed-up = {base} time / "
        f"fastlstm time; GFLOP/s of fastlstm ({report['flop_count']})",
        f"CPU {cpu.get('model', '?')} ({flags or '-'}); matmul ceiling (NumPy 1024x1024): "
        + ", ".join(f"{dt} {m['gflops']:.1f} GFLOP/s" for dt, m in report["matmul"].items()),
        "",
    ]
    head = (
        f"{'config':<10} {'B,T,I,H':<15} {'dtype':<7} {'check':<14} "
        f"{'train ms':>9} {base + ' ms':>10} {'speed-up':>8} "
        f"{'infer ms':>9} {base + ' ms':>10} {'speed-up':>8} "
        f"{'GFLOP/s':>8} {'%matmul':>7} {'MiB':>7} {base + ' MiB':>10}"
    )
    lines += [head, "-" * len(head)]
    for e in report["results"]:
        c = e["config"]
        tr, inf = e["training"], e["inference"]
        chk = e["check"]
        mem = e.get("memory") or {}
        lines.append(
            f"{c['name'] + ('*' if e['streaming'] else ''):<10} "
            f"{_dims(c):<15} {c['dtype']:<7} "
            f"{('ok ' if chk['passed'] else 'FAIL ') + format(chk['max_rel_err'], '.1e'):<14} "
            f"{_times(tr)} {_times(inf)} "
            f"{tr['fastlstm']['gflops']:>8.2f} {100 * tr['fastlstm']['matmul_share']:>6.1f}% "
            f"{_mib(mem.get('fastlstm')):>7} {_mib(mem.get('baseline')):>10}"
        )
    lines += _torch_module_rows(report)
    lines += [
        "",
        "* streaming: one time step per call, state carried (inference = per-step latency, "
        "fastlstm's stepper)",
    ]
    for e in report["results"]:
        inf = e["inference"]
        if "fastlstm_forward" in inf:
            fwd, ref = _ms(inf["fastlstm_forward"]["median"]), _ms(inf["baseline"]["median"])
            lines.append(
                f"  {e['config']['name']}: LSTM.forward(x_t, state) {fwd} ms, {base} {ref} ms: "
                f"{_x(inf['speedup_fastlstm_forward'])}"
            )
    lines += [
        "check: max relative error vs "
        + (report["results"][0]["check"]["reference"] if report["results"] else "the float64 oracle"),
        "MiB: peak memory of one training step above the memory held before it (child process RSS)",
    ]
    cold = report.get("cold_start")
    if cold:
        for key, label in (("first_ever", "empty numba cache"), ("warm_cache", "warm numba cache")):
            r = cold[key]
            if "error" in r:
                lines.append(f"cold start, {label}: {r['error']}")
            else:
                lines.append(
                    f"cold start, {label}: import {r['import_s']:.2f} s + first forward/backward "
                    f"{r['first_call_s']:.2f} s (process {r['process_wall_s']:.2f} s)"
                )
    return "\n".join(lines)


def write_json(report: dict, path: str) -> None:
    """Write ``report`` to ``path`` atomically (a temporary file in the same folder, then rename).

    Parameters
    ----------
    report : dict
        As :func:`run_benchmarks` returns it.
    path : str or os.PathLike
        The JSON file to write.
    """
    with atomic_write(path, text=True) as fh:
        json.dump(report, fh, indent=2, sort_keys=False, allow_nan=True)
        fh.write("\n")


def plot_speedups(report: dict, path: str) -> None:
    """Bar chart of the training and inference speed-ups per configuration (PNG, Agg).

    Log scale, bars drawn from the 1.0x line: up where fastlstm is faster, down where
    it is slower. Uses Matplotlib's object-oriented API (no pyplot, no global backend).

    Parameters
    ----------
    report : dict
        As :func:`run_benchmarks` returns it.
    path : str
        The PNG file to write.
    """
    agg = import_optional("matplotlib.backends.backend_agg", "--plot", extra="bench")
    Figure = import_optional("matplotlib.figure", "--plot", extra="bench").Figure
    results = report["results"]
    labels = [e["config"]["name"] + ("*" if e["streaming"] else "") for e in results]
    series = {
        "training step": [e["training"]["speedup"] or 1.0 for e in results],
        "inference" + (" (*: one streaming step)" if any(e["streaming"] for e in results) else ""): [
            e["inference"]["speedup"] or 1.0 for e in results
        ],
    }
    values = [v for vals in series.values() for v in vals]
    pos = np.arange(len(results))
    fig = Figure(figsize=(max(6.0, 1.1 * len(results) + 2), 4.2), layout="constrained")
    agg.FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_yscale("log")
    w = 0.38
    for k, (label, vals) in enumerate(series.items()):
        heights = [v - 1.0 for v in vals]
        bars = ax.bar(pos + (k - 0.5) * w, heights, w, bottom=1.0, label=label)
        ax.bar_label(bars, labels=[f"{v:.2f}x" for v in vals], fontsize=8, padding=2)
    ax.axhline(1.0, color="black", linewidth=1)
    ax.set_xticks(pos, labels)
    ax.set_ylabel(f"speed-up ({report['baseline']} time / fastlstm time)")
    ax.set_title(f"fastlstm vs {report['baseline_description']}, {report['threads']} threads", fontsize=9)
    ax.legend(loc="best", fontsize=8)
    ax.set_ylim(min(0.5, min(values) / 1.6), max(2.0, max(values) * 1.6))
    fig.savefig(path, dpi=120)


# --------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------
