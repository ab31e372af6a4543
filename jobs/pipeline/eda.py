"""Exploratory data analysis: statistics over all rows and PNG charts drawn off-screen with Agg."""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator, NullLocator, PercentFormatter
from PIL import Image

from .background import in_background
from .correlations import correlations, heatmap_order
from .eda_stats import (box_statistics, chart_values, check_parameters, clip, column_names, column_note,
                        column_statistics, compact, correlation, count_axis, eda_logs, float_values, histogram_edges,
                        judge_role, percent, shorten, strongest_columns, value_axis, value_counts)

BASE_DPI = 96  # sizes below are pixels at this dpi; another dpi scales the whole image
CHART, HEATMAP = (640, 400), (800, 700)
CHART_MARGINS = {"left": 0.1, "right": 0.97, "bottom": 0.15, "top": 0.8}
LABEL_MARGINS = {**CHART_MARGINS, "left": 0.3}  # room for category names left of horizontal bars
MISSING_MAX, ANNOTATE_MAX = 40, 15
NAME_CHARS, LABEL_CHARS = 50, 26
SEED = 0
COLOR, LIGHT, GREY, RED, INK = "#4C72B0", "#C9D5EA", "#A0A0A0", "#C44E52", "#222222"
PARALLEL_CHARTS = 8  # chartable columns from which a forked child draws about half the charts (when parallel)
OVERVIEW_COST = 5  # a heatmap or missing-values chart takes about five column charts' time (measured)
PNG_OPTIONS = {"compress_level": 1}  # zlib level 1: ~60% of the default level's time, files ~10% larger
CHARTS = {"numeric": ("histogram", "boxplot"), "datetime": ("histogram",), "categorical": ("countplot",),
          "boolean": ("countplot",)}


@dataclass
class _Sheet:
    fig: Figure
    ax: Axes
    top: float  # title baseline in figure coordinates: 10 px below the top edge at any size
    title_chars: int  # bold 11 pt characters that fit across the figure
    subtitle: Text
    footnote: Text
    artists: dict = field(default_factory=dict)


class _Painter:
    """One run's figures. Chart kinds keep their figure, axes and artists and swap in new data: making
    axes, ticks and artists costs more than drawing them (about 45 ms against 25 ms a chart)."""

    def __init__(self, dpi: int, sample_note: str):
        self.dpi, self.sample_note, self.sheets = dpi, sample_note, {}

    def sheet(self, kind: str, size=CHART, margins=CHART_MARGINS, grid: str = "") -> _Sheet:
        if kind in self.sheets:
            return self.sheets[kind]
        fig = Figure(figsize=(size[0] / BASE_DPI, size[1] / BASE_DPI), dpi=self.dpi)
        FigureCanvasAgg(fig)
        fig.subplots_adjust(**margins)
        ax = fig.add_subplot()
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=8.5, length=3)
        if grid:
            ax.grid(axis=grid, color="#E6E6E6", linewidth=0.8)
            ax.set_axisbelow(True)
        # Fixed label positions: matplotlib otherwise measures every tick label to place them.
        width, height = size[0] * (margins["right"] - margins["left"]), size[1] * (margins["top"] - margins["bottom"])
        ax.xaxis.set_label_coords(0.5, -32 / height)
        ax.yaxis.set_label_coords(-(size[0] * margins["left"] - 14) / width, 0.5)
        subtitle = fig.text(0.012, 1 - 40 / size[1], "", fontsize=9, color="#555555", va="top")
        footnote = fig.text(0.988, 0.012, "", fontsize=7.5, color="#777777", ha="right")
        sheet = self.sheets[kind] = _Sheet(fig, ax, 1 - 10 / size[1], size[0] // 9, subtitle, footnote)
        return sheet

    def finish(self, sheet: _Sheet, kind: str, column: str | None, what: str, subtitle: str, sampled: bool,
               log_scale: bool = False, xlabel: str = "", ylabel: str = "") -> dict:
        """Title `column: what` (a long name is cut so that `what` stays visible), render, encode."""
        title = what if column is None else f"{column}: {what}"
        drawn = what if column is None else f"{clip(column, max(12, sheet.title_chars - len(what) - 2))}: {what}"
        sheet.fig.suptitle(shorten(drawn, sheet.title_chars), x=0.012, y=sheet.top, ha="left", va="top", fontsize=11,
                           fontweight="bold")
        sheet.subtitle.set_text(shorten(subtitle, 120))
        sheet.footnote.set_text(self.sample_note if sampled else "")
        sheet.ax.set_xlabel(xlabel, fontsize=9)
        sheet.ax.set_ylabel(ylabel, fontsize=9)
        canvas, buffer = sheet.fig.canvas, io.BytesIO()
        canvas.draw()
        # RGB rather than print_png's RGBA: the background is opaque, and less data encodes ~20% faster.
        image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        image.convert("RGB").save(buffer, format="png", **PNG_OPTIONS)
        png = buffer.getvalue()
        return {"kind": kind, "column": column, "title": title, "png": png, "width": int.from_bytes(png[16:20], "big"),
                "height": int.from_bytes(png[20:24], "big"), "log_scale": log_scale, "sampled": sampled}

    def _bars(self, sheet: _Sheet, values: np.ndarray, edges: np.ndarray, marker: float | None) -> None:
        ax, art = sheet.ax, sheet.artists
        if not art:
            art.update(bars=ax.stairs([0], [0, 1], fill=True, color=COLOR, linewidth=0),
                       line=ax.axvline(0, color=INK, linestyle="--", linewidth=1),
                       label=ax.text(0, 1, "", transform=ax.get_xaxis_transform(), va="top", fontsize=8))
        art["bars"].set_data(values, edges)
        art["line"].set_visible(marker is not None)
        art["line"].set_xdata([marker or 0] * 2)
        art["label"].set_x(marker or 0)
        # Every glyph costs ~0.07 ms to lay out and render: figures carry few words, the table the rest.
        art["label"].set_text(f" median {compact(marker)}" if marker is not None else "")
        count_axis(ax, "y", values.max())

    def histogram(self, name: str, values: np.ndarray, stats: dict, sampled: bool) -> dict:
        sheet, log = self.sheet("histogram", grid="y"), stats["log_scale"]
        edges = histogram_edges(values, log)
        value_axis(sheet.ax, log, edges[0], edges[-1])
        self._bars(sheet, np.histogram(values, edges)[0], edges, stats["median"])
        return self.finish(sheet, "histogram", name, f"distribution{' (log scale)' if log else ''}", "",
                           sampled, log, shorten(name, NAME_CHARS), "rows in sample" if sampled else "rows")

    def timeline(self, name: str, values: np.ndarray, stats: dict, sampled: bool) -> dict:
        sheet, ticks = self.sheet("histogram", grid="y"), values.view("int64")
        edges = histogram_edges(ticks.astype("float64"), False)
        places = mdates.date2num(edges.astype("int64").astype(values.dtype))
        sheet.ax.set_xscale("linear")
        sheet.ax.set_xlim(places[0], places[-1])
        locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
        sheet.ax.xaxis.set_major_locator(locator)
        sheet.ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        self._bars(sheet, np.histogram(ticks, edges)[0], places, None)
        span = " to ".join(stats[k].removesuffix("T00:00:00").replace("T", " ") for k in ("min", "max"))
        return self.finish(sheet, "histogram", name, "values over time", span, sampled,
                           xlabel=shorten(name, NAME_CHARS), ylabel="rows in sample" if sampled else "rows")

    def boxplot(self, name: str, values: np.ndarray, stats: dict, sampled: bool) -> dict:
        sheet, log = self.sheet("boxplot", grid="x"), stats["log_scale"]
        ax, art, (box, outliers) = sheet.ax, sheet.artists, box_statistics(values)
        if not art:  # what ax.bxp draws, as five reusable artists
            art.update(box=ax.add_patch(Rectangle((0, 0), 0, 0, facecolor=LIGHT, edgecolor=COLOR)),
                       whiskers=ax.plot([], [], color=COLOR, linewidth=1.2)[0],
                       median=ax.plot([], [], color=INK, linewidth=2)[0],
                       fliers=ax.plot([], [], "o", markersize=3, color=COLOR, markeredgewidth=0, alpha=0.35)[0],
                       mean=ax.plot([], [], "D", markersize=5, markerfacecolor="white", markeredgecolor=INK)[0])
            ax.set_ylim(0.5, 1.5)
            ax.yaxis.set_major_locator(NullLocator())
            ax.spines["left"].set_visible(False)
        low, q1, median, q3, high = box["whislo"], box["q1"], box["med"], box["q3"], box["whishi"]
        art["box"].set_bounds(q1, 0.78, q3 - q1, 0.44)
        art["whiskers"].set_data([low, q1, np.nan, q3, high, np.nan, low, low, np.nan, high, high],
                                 [1, 1, np.nan, 1, 1, np.nan, 0.89, 1.11, np.nan, 0.89, 1.11])
        art["median"].set_data([median, median], [0.78, 1.22])
        art["mean"].set_data([box["mean"]], [1])
        fliers = box["fliers"]  # a little vertical jitter shows where outliers crowd
        art["fliers"].set_data(fliers, 1 + np.random.default_rng(SEED).uniform(-0.06, 0.06, fliers.size))
        value_axis(ax, log, min(low, fliers[0]) if fliers.size else low,
                    max(high, fliers[-1]) if fliers.size else high, pad=0.04)
        return self.finish(sheet, "boxplot", name, f"box plot{' (log scale)' if log else ''}",
                           f"median {compact(median)} · {compact(outliers)} outliers beyond 1.5×IQR "
                           f"({percent(outliers / values.size)}) · ◇ mean", sampled, log, shorten(name, NAME_CHARS))

    def countplot(self, name: str, counts: pd.Series, top_k: int, missing: int) -> tuple[dict, dict]:
        sheet = self.sheet("countplot", margins=LABEL_MARGINS, grid="x")
        ax, bars, top, total = sheet.ax, sheet.artists.setdefault("bars", []), counts.iloc[:top_k], int(counts.sum())
        other, shown = total - int(top.sum()), len(top)
        heights = [*top.to_numpy().tolist(), *([other] if other else [])]
        labels = [shorten(v, LABEL_CHARS) or "(empty)" for v in top.index]
        labels += [f"other ({len(counts) - shown:,} values)"] if other else []
        while len(bars) < len(heights):
            bars.append(ax.add_patch(Rectangle((0, 0), 0, 0, linewidth=0)))
        for place, bar in enumerate(bars):
            bar.set_visible(place < len(heights))
            if place < len(heights):
                bar.set_bounds(0, place - 0.35, heights[place], 0.7)
                bar.set_facecolor(COLOR if place < shown else GREY)
        ax.set_yticks(range(len(heights)), labels=labels, fontsize=8.5)
        ax.set_ylim(len(heights) - 0.5, -0.5)  # largest first, from the top
        count_axis(ax, "x", max(heights))
        share, base = (total - other) / total, "rows" if not missing else "non-missing rows"
        coverage = f"top {shown} of {len(counts):,} values, {percent(share)} of {base}" if other \
            else f"all {len(counts):,} values"
        figure = self.finish(sheet, "countplot", name, coverage, "", False, xlabel="rows",
                             ylabel=shorten(name, 30))
        return figure, {"shown": shown, "distinct": len(counts), "share": round(share, 4)}

    def heatmap(self, names: list[str], matrix: np.ndarray, total: int, sampled: bool) -> dict:
        sheet = self.sheet("heatmap", HEATMAP, {"left": 0.25, "right": 0.86, "bottom": 0.25, "top": 0.88})
        ax, fig, places, labels = sheet.ax, sheet.fig, np.arange(len(names)), [shorten(n, 24) for n in names]
        image = ax.imshow(np.ma.masked_invalid(matrix), cmap=colormaps["RdBu_r"].with_extremes(bad="#DDDDDD"),
                          vmin=-1, vmax=1, interpolation="nearest", aspect="auto")
        ax.set_xticks(places, labels=labels, rotation=90, fontsize=8)
        ax.set_yticks(places, labels=labels, fontsize=8)
        ax.spines[["top", "right"]].set_visible(True)
        bar = fig.colorbar(image, cax=fig.add_axes((0.89, 0.25, 0.022, 0.63)), ticks=[-1, -0.5, 0, 0.5, 1])
        bar.ax.tick_params(labelsize=8)
        bar.set_label("Pearson r", fontsize=9)
        if len(names) <= 8:  # printed values stay legible only in small matrices
            for (i, j), value in np.ndenumerate(matrix):
                if np.isfinite(value):
                    ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                            color="white" if abs(value) > 0.6 else INK)
        chosen = len(names) < total
        title = (f"Correlations: {len(names)} of {total} numeric columns, largest mean |r|" if chosen
                 else f"Correlations between the {total} numeric columns")
        rule = f"Kept: the {len(names)} with the largest mean absolute correlation with the others · " if chosen else ""
        return self.finish(sheet, "heatmap", None, title, rule + "Pearson r over pairwise-complete rows", sampled)

    def missing(self, shares: pd.Series, columns: int) -> dict:
        top = shares.iloc[:MISSING_MAX]
        size = (CHART[0], int(np.clip(150 + 18 * len(top), CHART[1], 880)))
        sheet = self.sheet("missing", size, {**LABEL_MARGINS, "bottom": 60 / size[1], "top": 1 - 95 / size[1]}, "x")
        ax, places = sheet.ax, np.arange(len(top))
        ax.barh(places, top.to_numpy(), height=0.7, color=RED)
        ax.set_yticks(places, labels=[shorten(n, LABEL_CHARS) for n in top.index], fontsize=8)
        ax.set_ylim(len(top) - 0.5, -0.5)
        ax.set_xlim(0, min(1.0, float(top.iloc[0]) * 1.15))
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=None))
        if len(top) <= ANNOTATE_MAX:
            for place, share in zip(places, top.to_numpy()):
                ax.text(share, place, f" {percent(share)}", va="center", fontsize=8, color="#333333")
        shown = f" ({len(top)} with most shown)" if len(shares) > len(top) else ""
        what = f"Missing values: {len(shares)} of {columns} columns have gaps{shown}"
        return self.finish(sheet, "missing", None, what, "share of rows missing per column, over all rows", False,
                           xlabel="share of rows missing")


def run_eda(frame: pd.DataFrame, roles: dict[str, str] | None = None, *, max_figures: int = 60,
            sample_rows: int = 20_000, top_k: int = 10, heatmap_max: int = 20, dpi: int = 96,
            parallel: bool = False) -> tuple[dict, list[dict], list[dict]]:
    """(statistics, figures, log entries). figures: [{"kind", "column", "title", "png": bytes, "width", "height"}].

    Statistics use all rows. Longer frames draw histograms, box plots and the heatmap from a seeded sample
    of `sample_rows` rows, noted on each such figure; bar charts show exact counts over all rows.
    `parallel`: a forked child draws about half the column charts (drawing is most of a small file's job).
    """
    check_parameters(frame, roles, max_figures=max_figures, sample_rows=sample_rows, top_k=top_k,
                     heatmap_max=heatmap_max, dpi=dpi)
    rows, roles = len(frame), roles or {}
    picks = np.sort(np.random.default_rng(SEED).choice(rows, sample_rows, replace=False)) \
        if rows > sample_rows else None
    seen = _Columns.of(frame, roles, picks)
    columns, skips, values, counts_of, numeric = seen.stats, seen.skips, seen.values, seen.counts_of, seen.numeric
    overview, dropped, chosen, capped = _budget(seen.plans, len(numeric) >= 2,
                                                any(s["missing"] for s in columns.values()), max_figures)
    skips.update({"figure_cap": capped} if capped else {})

    painter = _Painter(dpi, f"sample of {sample_rows:,} of {rows:,} rows" if picks is not None else "")
    figures, statistics = [], {"rows": rows, "column_count": frame.shape[1],
                               "sampled_rows": sample_rows if picks is not None else None,
                               "correlations": correlations(numeric, seen.categorical, strongest_columns)}
    with warnings.catch_warnings():
        # Names in scripts the bundled font lacks draw as boxes; a warning per glyph is only noise.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        mine, theirs = _shares(chosen, len(overview)) if parallel and len(chosen) >= PARALLEL_CHARTS else (chosen, [])
        later = in_background(_draw, painter, theirs, columns, values, counts_of, top_k, parallel=bool(theirs))
        if "heatmap" in overview:
            figures.append(_heatmap(painter, numeric, statistics, heatmap_max, picks is not None))
        if "missing" in overview:
            shares = pd.Series({n: s["missing"] / rows for n, s in columns.items() if s["missing"]})
            figures.append(painter.missing(shares.sort_values(ascending=False, kind="stable"), len(columns)))
        drawn = _draw(painter, mine, columns, values, counts_of, top_k)
        drawn.update(later())
        for name, _ in chosen:  # in frame order, whoever drew them
            result = drawn[name]
            if isinstance(result, str):
                columns[name]["note"] = result
                skips.setdefault("chart_failed", []).append(name)
                continue
            result, learned = result
            columns[name].update(learned, charts=[f["kind"] for f in result])
            figures += result
    rule = (f"At most {max_figures} figures: the correlation heatmap and the missing-values chart first, then each "
            f"column's charts in frame order; {len(capped)} chartable columns beyond the cap have no chart.")
    statistics.update(figures=len(figures), figure_cap={"limit": max_figures, "skipped": capped,
                                                        "skipped_overview": dropped, "rule": rule}, columns=columns)
    return statistics, figures, eda_logs(figures, skips, statistics, max_figures)


@dataclass
class _Columns:
    """What one pass over the columns learns: statistics, what to chart, and the (sampled) values to chart."""

    stats: dict = field(default_factory=dict)
    plans: list = field(default_factory=list)  # (name, chart kinds) in frame order
    skips: dict = field(default_factory=dict)  # reason -> names without a chart
    values: dict = field(default_factory=dict)
    counts_of: dict = field(default_factory=dict)
    numeric: dict = field(default_factory=dict)
    categorical: dict = field(default_factory=dict)

    @classmethod
    def of(cls, frame: pd.DataFrame, roles: dict[str, str], picks: np.ndarray | None) -> _Columns:
        seen = cls()
        for position, name in enumerate(column_names(frame.columns)):
            series = frame.iloc[:, position]
            role = roles.get(str(frame.columns[position])) or judge_role(series, name)
            numbers = float_values(series) if role == "numeric" else None
            seen.counts_of[name] = None if numbers is not None else value_counts(series)
            stats = seen.stats[name] = column_statistics(series, role, numbers, seen.counts_of[name])
            if numbers is not None:
                stats["log_scale"] = bool((stats.get("min") or 0) > 0 and stats.get("skew", 0) > 1)
            reason = "all_missing" if stats["count"] == 0 else None if role in CHARTS else role
            if reason:
                stats["note"] = column_note(reason, stats)
                seen.skips.setdefault(reason, []).append(name)
                continue
            seen.plans.append((name, CHARTS[role]))
            seen.add_values(name, series, role, numbers, picks)
        return seen

    def add_values(self, name: str, series: pd.Series, role: str, numbers: np.ndarray | None,
                   picks: np.ndarray | None) -> None:
        if numbers is not None:
            self.numeric[name] = numbers if picks is None else numbers[picks]
            self.values[name] = chart_values(numbers, picks, np.isfinite)
        elif role in ("categorical", "boolean"):
            self.categorical[name] = series if picks is None else series.iloc[picks]
        elif role == "datetime":
            moments = (series.dt.tz_convert(None) if series.dt.tz is not None else series).to_numpy()
            self.values[name] = chart_values(moments, picks, lambda a: ~np.isnat(a))


def _budget(plans: list, heatmap: bool, missing: bool, max_figures: int) -> tuple[list, list, list, list]:
    """(overview charts drawn, overview charts dropped, columns charted, columns capped) within max_figures."""
    budget, overview, dropped = max_figures, [], []
    for kind, wanted in (("heatmap", heatmap), ("missing", missing)):
        if wanted:
            (overview if budget else dropped).append(kind)
            budget -= 1 if budget else 0
    chosen, capped = [], []
    for name, kinds in plans:  # in frame order; once one column's charts do not fit, later ones wait too
        if capped or len(kinds) > budget:
            capped.append(name)
            continue
        chosen.append((name, kinds))
        budget -= len(kinds)
    return overview, dropped, chosen, capped


def _heatmap(painter: _Painter, numeric: dict, statistics: dict, heatmap_max: int, sampled: bool) -> dict:
    """The correlation heatmap of (at most heatmap_max of) the numeric columns; says which in statistics."""
    names = list(numeric)
    matrix = np.column_stack([numeric[n] for n in names])
    if len(names) > heatmap_max:
        keep = strongest_columns(matrix, heatmap_max)
        names, matrix = [names[i] for i in keep], matrix[:, keep]
    ordered = heatmap_order(names, statistics["correlations"])  # strongest pairs first, side by side
    matrix = matrix[:, [names.index(n) for n in ordered]]
    statistics["heatmap"] = {"columns": ordered, "numeric_columns": len(numeric), "rule": (
        f"the {len(ordered)} with the largest mean absolute correlation with the others"
        if len(ordered) < len(numeric) else "all numeric columns")}
    return painter.heatmap(ordered, correlation(matrix), len(numeric), sampled)


def _shares(chosen: list, overview: int) -> tuple[list, list]:
    """The chosen columns split into this process's and a child's, about equal in drawing time: each chart
    counts one, an overview chart (heatmap, missing values) OVERVIEW_COST, and those are drawn here."""
    mine, theirs, loads = [], [], [OVERVIEW_COST * overview, 0.0]
    for name, kinds in chosen:
        side = 0 if loads[0] <= loads[1] else 1
        (mine if side == 0 else theirs).append((name, kinds))
        loads[side] += len(kinds)
    return mine, theirs


def _draw(painter: _Painter, chosen: list, columns: dict, values: dict, counts_of: dict, top_k: int) -> dict:
    """Per chosen column: (its figures, what drawing adds to its statistics), or the note saying why it failed."""
    drawn: dict = {}
    for name, kinds in chosen:
        try:
            drawn[name] = _column_figures(painter, name, kinds, columns[name], values.get(name), counts_of[name], top_k)
        except Exception as exc:  # noqa: BLE001 - one odd column must not cost the others their charts
            drawn[name] = f"No chart: drawing failed ({type(exc).__name__}: {exc})."
    return drawn


def _column_figures(painter: _Painter, name: str, kinds: tuple, stats: dict, values, counts, top_k: int
                    ) -> tuple[list, dict]:
    if kinds == ("countplot",):
        figure, coverage = painter.countplot(name, counts, top_k, stats["missing"])
        return [figure], {"top_k_coverage": coverage}
    array, sampled = values
    if stats["role"] == "datetime":
        return [painter.timeline(name, array, stats, sampled)], {}
    if not array.size:
        raise ValueError("no finite values")
    return [painter.histogram(name, array, stats, sampled), painter.boxplot(name, array, stats, sampled)], {}

