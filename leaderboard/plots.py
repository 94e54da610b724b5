"""Per-layer score profiles: one figure per (stimulus set, task), one line per model.

Models differ in depth, so the x axis is relative depth (first layer 0, last layer 1); each line is
labelled with the model's headline layer. Intervals are drawn when the result holds them.
"""

from __future__ import annotations

from pathlib import Path

from audioprobe.errors import AudioprobeError
from audioprobe.results import safe_name


def _interval(entry: dict) -> tuple[float, float] | None:
    if isinstance(entry.get("ci"), (list, tuple)) and len(entry["ci"]) == 2 and None not in entry["ci"]:
        return tuple(entry["ci"])
    if entry.get("ci_low") is not None and entry.get("ci_high") is not None:
        return entry["ci_low"], entry["ci_high"]
    return None


def plot_profiles(results: list[dict], directory: Path) -> list[Path]:
    """Write `<set>__<task>.png` files into `directory`; return their paths."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise AudioprobeError("plots need matplotlib: pip install 'audioprobe[plots]'.") from None
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["dataset"]["name"], r["dataset"]["fingerprint"], r["task"]["name"]), []).append(r)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for (set_name, fp, task), rs in sorted(groups.items()):
        fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
        for r in sorted(rs, key=lambda r: r["model"]["name"]):
            per_layer = r["scores"]["per_layer"]
            n = len(per_layer)
            xs = [i / (n - 1) if n > 1 else 0.5 for i in range(n)]
            ys = [e["score"] if e["score"] is not None else float("nan") for e in per_layer]
            line, = ax.plot(xs, ys, marker="o", markersize=3, label=f"{r['model']['name']} ({r['scores']['headline'].get('layer')})")
            bands = [_interval(e) for e in per_layer]
            if all(b is not None for b in bands):
                ax.fill_between(xs, [b[0] for b in bands], [b[1] for b in bands], color=line.get_color(), alpha=0.2)
        synthetic = any(r["dataset"].get("synthetic") for r in rs)
        ax.set_title(f"{task} on {set_name}" + (" (SYNTHETIC listeners)" if synthetic else ""), fontsize=10)
        ax.set_xlabel("relative layer depth (0 = first layer, 1 = last)")
        ax.set_ylabel(rs[0]["scores"].get("score_name", "score"))
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = directory / f"{safe_name(set_name)}-{fp[:8]}__{safe_name(task)}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
