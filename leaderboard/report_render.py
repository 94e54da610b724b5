"""The report rendered: one self-contained HTML page (inline PNGs and CSS, no script, no font, no
network request) and the same text as markdown with figures as relative links."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from audioprobe.leaderboard.report_figures import RDM_HEADING
from audioprobe.leaderboard.report_tables import Table

if TYPE_CHECKING:
    from audioprobe.leaderboard.report import SetReport
    from audioprobe.leaderboard.report_suites import SuiteReport

import html

from audioprobe.leaderboard import figures as F

# ---------------------------------------------------------------------------------------------
# Rendering

SUITES_INTRO = ("A suite pools many stimulus sets (for instance published dissimilarity studies, each with its own "
                "sounds and ratings): the studies are the unit of replication.")

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1a1a1a;
       max-width: 1080px; margin: 0 auto; padding: 1em 1.5em 4em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 2.2em; border-bottom: 2px solid #333; }
h3 { margin-top: 1.8em; border-bottom: 1px solid #bbb; } h4 { margin: 1.2em 0 .4em; }
.banner { background: #fde0dd; border: 2px solid #7a0000; color: #7a0000; font-weight: bold; padding: .5em .8em;
          margin: .8em 0; }
.note { background: #f4f4f4; border-left: 4px solid #999; padding: .4em .8em; }
figure { margin: 1.2em 0; page-break-inside: avoid; break-inside: avoid; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .88em; color: #333; margin-top: .3em; }
.pairwise { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: .5em 1.2em; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0; }
th, td { border-bottom: 1px solid #ddd; padding: .2em .6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { caption-side: bottom; text-align: left; font-size: .85em; color: #444; padding-top: .3em; }
nav ul { margin: .2em 0; } code { font-size: .92em; }
@media print { body { max-width: none; font-size: 11pt; } h2 { page-break-before: always; } a { color: inherit; } }
"""


NO_CLAIMS = "No pairwise difference or contrast is supported at this false discovery rate."


SUMMARY_NOTE = ("Each line is a claim the comparisons support: a pairwise headline difference that passes the "
                "Benjamini-Hochberg correction over its experiment (q), or a contrast whose verdict is an effect "
                "(beyond the contrast file's margin where it states one). ⚠: the task is read against a target or "
                "label the listeners do not agree on. Everything else is not shown, which is not the same as equal.")


def _summary_heading(s: SetReport) -> str:
    return "What the data support" + (" (synthetic set: claims about the harness, not about hearing)"
                                      if s.synthetic else "")


def _h(x) -> str:
    return html.escape(str(x), quote=True)


def _html_table(t: Table) -> str:
    head = "".join(f"<th>{_h(h)}</th>" for h in t.headers)
    body = "".join("<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>" for row in t.rows)
    caption = f"<caption>{_h(t.note)}</caption>" if t.note else ""
    return f"<h4>{_h(t.title)}</h4>\n<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_figure(f: F.Figure) -> str:
    """A figure on the page: the PNG linked from figures/ (stored once; the page opens from disk, no network),
    shown at half its pixels (it is drawn at 2x for sharp screens)."""
    w, h = f.data["size_px"]
    files = ", ".join(["png", *(["svg"] if "svg" in f.paths else []), "json"])
    return (f'<figure id="fig-{_h(f.name)}"><img src="figures/{_h(f.name)}.png" width="{w}" height="{h}" '
            f'loading="lazy" alt="{_h(f.alt or f.title)}"><figcaption><b>{_h(f.title)}.</b> {_h(f.caption)} '
            f'<span class="files">(figures/{_h(f.name)}: {files})</span></figcaption></figure>')


def _set_heading(s: SetReport) -> str:
    return (f"Stimulus set {s.name} ({s.n_sounds} sounds, fingerprint {s.fingerprint[:12]})"
            + (" — PARTIAL (--limit)" if s.partial else ""))


def _models_line(s: SetReport) -> str:
    return (f"Models: {', '.join(s.models) or 'none'}; controls (random weights, spectrogram baselines): "
            f"{', '.join(s.controls) or 'none'}.")


def render_html(sets: list[SetReport], meta: dict[str, Any], suites: list[SuiteReport] = ()) -> str:
    out = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<title>audioprobe report</title>', f'<style>{CSS}</style></head><body>',
           '<h1>audioprobe report</h1>',
           f'<p>From {meta["n_results"]} result files under <code>{_h(meta["results_dir"])}</code> and their bootstrap '
           f'replicates (no model, no activation), comparisons at false discovery rate α = {meta["alpha"]}. '
           'Method of Bost et al. (2024), <i>Principled probing of foundation models in the auditory '
           'modality</i>.</p>',
           f'<p class="provenance">Made by <code>{_h(meta["command"])}</code> with audioprobe {_h(meta["version"])} on '
           f'{_h(meta["created"])}.</p>']
    if any(s.synthetic for s in sets):
        out.append(f'<div class="banner synthetic-banner">{_h(F.SYNTHETIC_BANNER)}.</div>')
    out += _html_contents(sets, suites)
    for s in sets:
        out += _html_set(s)
    if suites:
        out += _html_suites(suites)
    out.append(f'<footer><p>Generated by audioprobe-report {_h(meta["version"])}.</p></footer></body></html>')
    return "\n".join(out) + "\n"


def _html_contents(sets: list[SetReport], suites: list[SuiteReport]) -> list[str]:
    """The page's table of contents: each set with its sections, then the suites."""
    out = ['<nav><b>Contents</b><ul>']
    for s in sets:
        out.append(f'<li><a href="#{_h(s.anchor)}">{_h(_set_heading(s))}</a>'
                   + (' <b>(synthetic)</b>' if s.synthetic else '') + '<ul>'
                   + "".join(f'<li><a href="#{_h(sec.anchor)}">{_h(sec.title)}</a></li>' for sec in s.sections)
                   + '</ul></li>')
    if suites:
        out.append('<li><a href="#suites">Suites</a><ul>' + "".join(
            f'<li><a href="#{_h(su.anchor)}">{_h(su.suite)}: {_h(su.task)}</a></li>' for su in suites) + '</ul></li>')
    out.append('</ul></nav>')
    return out


def _html_set(s: SetReport) -> list[str]:
    """One stimulus set's section: its heading, banner, models and summary of claims, then its experiments."""
    out = [f'<section id="{_h(s.anchor)}"><h2>{_h(_set_heading(s))}</h2>']
    if s.synthetic:
        out.append(f'<div class="banner synthetic-banner">{_h(F.SYNTHETIC_BANNER)}.</div>')
    out.append(f'<p>{_h(_models_line(s))}</p>')
    out.append(f'<div class="summary" id="{_h(s.anchor)}-summary"><h4>{_h(_summary_heading(s))}</h4>')
    out.append('<ul>' + "".join(f'<li>{_h(c)}</li>' for c in s.claims) + '</ul>' if s.claims else
               f'<p>{_h(NO_CLAIMS)}</p>')
    out.append(f'<p class="note">{_h(SUMMARY_NOTE)}</p></div>')
    for sec in s.sections:
        out.append(f'<section id="{_h(sec.anchor)}"><h3>{_h(sec.title)}</h3>')
        if sec.intro:
            out.append(f'<p>{_h(sec.intro)}</p>')
        if sec.note:
            out.append(f'<p class="note">{_h(sec.note)}</p>')
        out += [_html_figure(f) for f in sec.figures]
        out += [_html_table(t) for t in sec.tables]
        if sec.pairwise:
            out.append('<h4>Pairwise comparisons of the models, per task</h4><div class="pairwise">')
            out += [_html_figure(f) for f in sec.pairwise]
            out.append('</div>')
        if sec.rdms:
            out.append(f'<h4>{_h(RDM_HEADING)}</h4>')
            out += [_html_figure(f) for f in sec.rdms]
        out.append('</section>')
    out.append('</section>')
    return out


def _html_suites(suites: list[SuiteReport]) -> list[str]:
    """The suites' section: one subsection per suite and task, with its tables."""
    out = ['<section id="suites"><h2>Suites</h2>']
    out.append(f'<p>{_h(SUITES_INTRO)}</p>')
    for su in suites:
        out.append(f'<section id="{_h(su.anchor)}"><h3>Suite {_h(su.suite)}, task {_h(su.task)}</h3>')
        if su.synthetic:
            out.append(f'<div class="banner synthetic-banner">{_h(F.SYNTHETIC_BANNER)}.</div>')
        out += [_html_table(t) for t in su.tables]
        out.append('</section>')
    out.append('</section>')
    return out


def _md_cell(x) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table) -> list[str]:
    lines = [f"#### {t.title}", "", "| " + " | ".join(map(_md_cell, t.headers)) + " |",
             "|" + "---|" * len(t.headers)]
    lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in t.rows]
    return lines + ([""] + [t.note] if t.note else []) + [""]


def _md_figure(f: F.Figure) -> list[str]:
    svg = f" ([SVG](figures/{f.name}.svg))" if "svg" in f.paths else ""
    return [f"![{f.alt or f.title}](figures/{f.name}.png)", "", f"**{f.title}.** {f.caption}{svg}", ""]


def render_markdown(sets: list[SetReport], meta: dict[str, Any], suites: list[SuiteReport] = ()) -> str:
    banner = f"> **{F.SYNTHETIC_BANNER}.**"
    lines = ["# audioprobe report", "",
             f"From {meta['n_results']} result files under `{meta['results_dir']}` and their bootstrap replicates "
             f"(no model, no activation); comparisons at false discovery rate α = {meta['alpha']}.", "",
             f"Made by `{meta['command']}` with audioprobe {meta['version']} on {meta['created']}.", ""]
    if any(s.synthetic for s in sets):
        lines += [banner, ""]
    for s in sets:
        lines += [f'<a id="{s.anchor}"></a>', "", f"## {_set_heading(s)}", ""]
        if s.synthetic:
            lines += [banner, ""]
        lines += [_models_line(s), "", f"#### {_summary_heading(s)}", ""]
        lines += ([f"- {c}" for c in s.claims] if s.claims else [NO_CLAIMS]) + ["", f"*{SUMMARY_NOTE}*", ""]
        for sec in s.sections:
            lines += [f'<a id="{sec.anchor}"></a>', "", f"### {sec.title}", ""]
            if sec.intro:
                lines += [sec.intro, ""]
            if sec.note:
                lines += [f"> {sec.note}", ""]
            for f in sec.figures:
                lines += _md_figure(f)
            for t in sec.tables:
                lines += _md_table(t)
            if sec.pairwise:
                lines += ["#### Pairwise comparisons of the models, per task", ""]
                for f in sec.pairwise:
                    lines += _md_figure(f)
            if sec.rdms:
                lines += [f"#### {RDM_HEADING}", ""]
                for f in sec.rdms:
                    lines += _md_figure(f)
    if suites:
        lines += ['<a id="suites"></a>', "", "## Suites", "", SUITES_INTRO, ""]
        for su in suites:
            lines += [f'<a id="{su.anchor}"></a>', "", f"### Suite `{su.suite}`, task `{su.task}`", ""]
            if su.synthetic:
                lines += [banner, ""]
            for t in su.tables:
                lines += _md_table(t)
    return "\n".join(lines).rstrip() + "\n"
