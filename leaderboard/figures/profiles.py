"""Per-layer profiles: the paper's figures 1A, 1B, 2 and A2, any other task's profile, and the
leaderboard's one-figure-per-task PNGs."""

from __future__ import annotations

import io
from pathlib import Path

from audioprobe.files import atomic_write_bytes
from audioprobe.leaderboard.figures.figure import Figure, _finish, _header_data, _new_figure
from audioprobe.leaderboard.figures.primitives import (
    _ceiling,
    _chance,
    _depth_axis,
    _interval,
    _layer_marks,
    _profile,
    _strip,
    _undefined,
    _unreliable_suffix,
    _zero,
)
from audioprobe.leaderboard.figures.style import (
    BASELINE_DASHES,
    DPI,
    PERCEIVED_DASHES,
    PHYSICAL_DASHES,
    RC,
    WIDTH,
    ModelStyle,
    _pyplot,
    model_order,
    styles_for,
)
from audioprobe.results import result_label, safe_name
from audioprobe.studies import study_of, task_rank
from audioprobe.tasktypes import presentation

# ---------------------------------------------------------------------------------------------
# Task metadata read from result files

#: the parameters a result's task ran with (one rule, the task types' presentations')
params = presentation.result_params


def dimensions(result: dict) -> tuple[str, ...]:
    """The judged dimensions a result's score is about, as its task type says (none for most types)."""
    return presentation.of(result).dimensions(result)


def dimension_label(result: dict) -> str:
    return presentation.dimension_label(result)


def task_order(results_by_task: dict[str, list[dict]]) -> list[str]:
    """Panel order: their study's (`Study.task_rank`: listed tasks, then its order of dimensions), else by
    dimensions and name."""
    study = study_of(results_by_task)
    return sorted(results_by_task, key=lambda task: task_rank(study, task, dimensions(results_by_task[task][0])))


def _y_label(results: list[dict]) -> str:
    return presentation.of(results[0]).y_label(results[0])


# ---------------------------------------------------------------------------------------------
# Figures 1A, A2 and generic per-task profiles

def _slots(keys: list, n_layers: dict) -> dict:
    """Margin slot of each one-layer series, in drawing order."""
    one = [k for k in keys if n_layers[k] == 1]
    return {k: i for i, k in enumerate(one)}


def _profile_grid(title: str, synthetic: bool, n_panels: int, ncols: int):
    """The panel grid of per-layer profile figures (1A, A2, 2): one sizing rule for all of them."""
    return _new_figure(title, synthetic, n_panels, ncols, panel_h=2.45 if ncols > 1 else 2.9,
                       width=WIDTH if ncols > 1 else WIDTH * 0.75)


def profiles_figure(name: str, title: str, results_by_task: dict[str, list[dict]], styles: dict[str, ModelStyle],
                    synthetic: bool, caption: str, panel_titles: dict[str, str] | None = None,
                    ncols: int = 2) -> Figure:
    """One panel per task, one line per model (score per layer, interval band), the noise ceiling (RSA)
    or chance (transfer, ABX)."""
    tasks = task_order(results_by_task)
    ncols = min(ncols, len(tasks))
    fig, sub, axes, texts = _profile_grid(title, synthetic, len(tasks), ncols)
    panels = []
    with _pyplot().rc_context(RC):
        for i, (ax, task) in enumerate(zip(axes, tasks)):
            rs = {result_label(r): r for r in results_by_task[task]}
            first = next(iter(rs.values()))
            panel = {"task": task, "series": [], "ceiling": _ceiling(ax, _ceiling_of(list(rs.values()))),
                     "chance": _chance(ax, *_chance_of(first))}
            order = model_order({m: styles[m] for m in rs})
            slots = _slots(order, {m: len(rs[m]["scores"]["per_layer"]) for m in order})
            for model in order:
                per_layer = rs[model]["scores"]["per_layer"]
                drawn = _profile(ax, styles[model], [e["score"] for e in per_layer],
                                 [_interval(e) for e in per_layer], label=model, gid=f"score:{model}",
                                 slot=slots.get(model, 0))
                panel["series"].append({"model": model, "layers": [e["layer"] for e in per_layer], **drawn})
            _depth_axis(ax, len(slots), show_label=i + ncols >= len(tasks))
            if i % ncols == 0:
                ax.set_ylabel(_y_label([first]))
            ax.set_title(((panel_titles or {}).get(task) or task_title(first)) + _unreliable_suffix(first))
            _zero(ax)
            _undefined(ax, panel["series"])
            panels.append(panel)
        _finish(fig, axes, model_order(styles))
    return Figure(name, title, caption, fig, {**_header_data(texts, synthetic, fig), "kind": "profiles",
                                              "panels": panels}, alt=title)


def _ceiling_of(results: list[dict]) -> dict | None:
    """The noise ceiling of a task on a set: it depends on the target only, so every model's result holds
    the same; the first that has one."""
    for r in results:
        nc = r["scores"].get("noise_ceiling")
        if nc and nc.get("value") is not None:
            return nc
    return None


def _chance_of(result: dict) -> tuple[float | None, str]:
    chance = result["scores"].get("chance")
    if isinstance(chance, dict):
        kind = params(result).get("score", "accuracy")
        return chance.get(kind), f"chance ({'majority class' if kind == 'accuracy' else '1 / classes'})"
    if isinstance(chance, (int, float)):
        return float(chance), "chance"
    return None, ""


def perceived_physical_figure(name: str, title: str, pairs: list[tuple[str, str | None, str | None]],
                              results_by_task: dict[str, list[dict]], styles: dict[str, ModelStyle],
                              contrast_rows: list[dict], synthetic: bool, caption: str) -> Figure:
    """Per dimension (pairs: (dimension label, perceived task, physical task)), each model's RSA against
    the modal responses (solid) and the physical labels (dashed); ^/v at the top where the contrast
    row (a = perceived, b = physical) rejects at a layer."""
    from matplotlib.lines import Line2D

    ncols = min(3, len(pairs))
    fig, sub, axes, texts = _new_figure(title, synthetic, len(pairs), ncols, panel_h=2.6 if ncols > 1 else 2.9,
                                        width=WIDTH if ncols > 1 else WIDTH * 0.75)
    panels = []
    with _pyplot().rc_context(RC):
        for i, (ax, (dim, perceived, physical)) in enumerate(zip(axes, pairs)):
            panel = {"dimension": dim, "perceived_task": perceived, "physical_task": physical, "series": []}
            by_role = {role: {result_label(r): r for r in results_by_task.get(task, [])}
                       for role, task in (("perceived", perceived), ("physical", physical)) if task}
            present = set().union(*[set(v) for v in by_role.values()]) if by_role else set()
            order = model_order({m: styles[m] for m in present})
            keys = [(m, role) for m in order for role in ("perceived", "physical") if m in by_role.get(role, {})]
            slots = _slots(keys, {k: len(by_role[k[1]][k[0]]["scores"]["per_layer"]) for k in keys})
            marks = []
            for model in order:
                label = model
                for role, dashes in (("perceived", PERCEIVED_DASHES), ("physical", PHYSICAL_DASHES)):
                    r = by_role.get(role, {}).get(model)
                    if r is None:
                        continue
                    per_layer = r["scores"]["per_layer"]
                    drawn = _profile(ax, styles[model], [e["score"] for e in per_layer],
                                     [_interval(e) for e in per_layer], label=label, gid=f"{role}:{model}",
                                     role_dashes=dashes, slot=slots.get((model, role), 0))
                    label = "_" + model  # one legend entry per model
                    panel["series"].append({"model": model, "role": role, "task": r["task"]["name"],
                                            "layers": [e["layer"] for e in per_layer], **drawn})
                row = next((c for c in contrast_rows if c["model"] == model and c.get("a") == perceived
                            and c.get("b") == physical), None)
                mark = _layer_marks(row, len(by_role.get("perceived", {}).get(model, {}).get("scores", {})
                                             .get("per_layer", [None, None])), slots.get((model, "perceived"), 0))
                if mark:
                    marks.append(mark)
            _depth_axis(ax, len(slots), show_label=True)
            if i % ncols == 0:
                ax.set_ylabel("RSA (0/1 target, r)")
            perceived_results = list(by_role.get("perceived", {}).values())
            ax.set_title(dim + (_unreliable_suffix(perceived_results[0]) if perceived_results else ""))
            _zero(ax)
            _undefined(ax, panel["series"])
            panel["significant"] = _strip(ax, marks, styles)
            panels.append(panel)
        keys = [Line2D([], [], color="black", linewidth=1.3, label="perceived (modal response)"),
                Line2D([], [], color="black", linewidth=1.3, dashes=PHYSICAL_DASHES, label="physical label"),
                Line2D([], [], color="black", linestyle="none", marker="^", markersize=4.5,
                       label="perceived > physical (▼ <), q ≤ α")]
        _finish(fig, axes, model_order(styles), keys if any(p["significant"] for p in panels) else keys[:2])
    return Figure(name, title, caption, fig, {**_header_data(texts, synthetic, fig), "kind": "perceived-physical",
                                              "panels": panels}, alt=title)


def transfer_figure(name: str, title: str, results_by_task: dict[str, list[dict]], styles: dict[str, ModelStyle],
                    contrast_rows: list[dict], synthetic: bool, caption: str) -> Figure:
    """Per split, each model's transfer score per layer (solid, interval band), its no-transfer baseline
    (dotted, same colour) and chance (long dashes); ^/v where transfer differs from the baseline at a layer."""
    from matplotlib.lines import Line2D

    tasks = task_order(results_by_task)
    ncols = min(3, len(tasks))
    fig, sub, axes, texts = _profile_grid(title, synthetic, len(tasks), ncols)
    panels = []
    with _pyplot().rc_context(RC):
        for i, (ax, task) in enumerate(zip(axes, tasks)):
            rs = {result_label(r): r for r in results_by_task[task]}
            first = next(iter(rs.values()))
            kind = params(first).get("score", "accuracy")
            panel = {"task": task, "score": kind, "series": [], "chance": _chance(ax, *_chance_of(first))}
            order = model_order({m: styles[m] for m in rs})
            slots = _slots(order, {m: len(rs[m]["scores"]["per_layer"]) for m in order})
            marks = []
            for model in order:
                per_layer = rs[model]["scores"]["per_layer"]
                layers = [e["layer"] for e in per_layer]
                slot = slots.get(model, 0)
                drawn = _profile(ax, styles[model], [e["score"] for e in per_layer], [_interval(e) for e in per_layer],
                                 label=model, gid=f"transfer:{model}", role_dashes=(), slot=slot)
                panel["series"].append({"model": model, "role": "transfer", "layers": layers, **drawn})
                base = [e.get(f"baseline_{kind}") for e in per_layer]
                if any(v is not None for v in base):
                    drawn = _profile(ax, styles[model], base, None, label="_" + model, gid=f"baseline:{model}",
                                     role_dashes=BASELINE_DASHES, band=False, slot=slot, markersize=3,
                                     markerfacecolor="white", linewidth=1.2)
                    if len(per_layer) > 1:
                        ax.get_lines()[-1].set_marker("none")
                    panel["series"].append({"model": model, "role": "baseline", "layers": layers, **drawn})
                row = next((c for c in contrast_rows if c["model"] == model and c.get("a") == task
                            and c.get("b") == "no-transfer baseline"), None)
                mark = _layer_marks(row, len(per_layer), slot)
                if mark:
                    marks.append(mark)
            _depth_axis(ax, len(slots), show_label=i + ncols >= len(tasks))
            if i % ncols == 0:
                ax.set_ylabel(_y_label([first]))
            ax.set_title(task_title(first) + _unreliable_suffix(first))
            _undefined(ax, [x for x in panel["series"] if x["role"] == "transfer"])
            panel["significant"] = _strip(ax, marks, styles)
            panels.append(panel)
        keys = [Line2D([], [], color="black", linewidth=1.3, label="transfer")]
        if any(x["role"] == "baseline" for p in panels for x in p["series"]):
            keys.append(Line2D([], [], color="black", linewidth=1.3, dashes=BASELINE_DASHES,
                               label="no-transfer baseline"))
        if any(p["significant"] for p in panels):
            keys.append(Line2D([], [], color="black", linestyle="none", marker="v", markersize=4.5,
                               label="transfer < baseline (▲ >), q ≤ α"))
        _finish(fig, axes, model_order(styles), keys)
    return Figure(name, title, caption, fig, {**_header_data(texts, synthetic, fig), "kind": "transfer",
                                              "panels": panels}, alt=title)


def task_title(result: dict) -> str:
    """A panel title, as the result's task type words it."""
    return presentation.of(result).panel_title(result)


# ---------------------------------------------------------------------------------------------
# The leaderboard's per-task profiles (audioprobe-leaderboard --plots)

def plot_profiles(results: list[dict], directory: Path) -> list[Path]:
    """Write `<set>-<fp8>__<task>.png` into `directory`, one per (stimulus set, task); return the paths."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((r["dataset"]["name"], r["dataset"]["fingerprint"]), []).append(r)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for (set_name, fp), rs in sorted(groups.items()):
        styles = styles_for(rs)
        synthetic = any(r["dataset"].get("synthetic") for r in rs)
        by_task: dict[str, list[dict]] = {}
        for r in rs:
            by_task.setdefault(r["task"]["name"], []).append(r)
        for task, trs in sorted(by_task.items()):
            stem = f"{safe_name(set_name)}-{fp[:8]}__{safe_name(task)}"
            figure = profiles_figure(stem, f"{task} on {set_name}", {task: trs}, styles, synthetic, "", ncols=1)
            path = directory / f"{stem}.png"
            buffer = io.BytesIO()
            figure.fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
            atomic_write_bytes(path, lambda fh, b=buffer.getvalue(): fh.write(b))
            _pyplot().close(figure.fig)
            written.append(path)
    return written
