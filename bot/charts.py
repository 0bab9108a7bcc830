"""PNG charts for the digests and reviews: the funnel, weekly acceptance and rejection reasons.

A chart travels through the outbox as a small spec of numbers (`ChartSpec`).
The sender draws the PNG from it at send time and uploads it. The pictures are
sized and lettered for a phone: a 1200-pixel-wide PNG shown at the width of a
phone screen shrinks to about a third, so the smallest letters are 13 points
at 200 dpi.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from bot.i18n import MESSAGES, format_number, format_percentage, t
from bot.outbox import CHART_KIND, enqueue

if TYPE_CHECKING:
    from matplotlib.axes import Axes

FIGURE_INCHES = (6.0, 6.0)
DPI = 200  # 1200 x 1200 pixels
TITLE_SIZE = 19
LABEL_SIZE = 16
VALUE_SIZE = 15
SMALL_SIZE = 13
BLUE = "#1d3c5a"
GREEN = "#2a9d8f"
ORANGE = "#e76f51"
GREY = "#8d99ae"
MAX_REASONS = 8
MAX_WEEKS = 13
RENDER_TIMEOUT_SECONDS = 120


class ChartError(RuntimeError):
    """Drawing a chart in its child process failed."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Literal["nl", "en"]
    title: str = Field(max_length=200, description="Chart title, already in the reader's language.")


class FunnelChart(_Spec):
    kind: Literal["funnel"] = "funnel"
    mqls: int = Field(ge=0)
    accepted: int = Field(ge=0)
    sqls: int = Field(ge=0)
    won: int = Field(ge=0)


class AcceptanceChart(_Spec):
    kind: Literal["acceptance"] = "acceptance"
    weeks: list[str] = Field(max_length=MAX_WEEKS, description="Week labels, oldest first, e.g. W10.")
    rates: list[float | None] = Field(max_length=MAX_WEEKS, description="Acceptance per week; None without decisions.")
    target: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _check_lengths(self) -> AcceptanceChart:
        if len(self.weeks) != len(self.rates):
            raise ValueError(f"{len(self.weeks)} week labels but {len(self.rates)} rates; give one rate per week")
        return self


class ReasonsChart(_Spec):
    kind: Literal["reasons"] = "reasons"
    reasons: list[tuple[str, int]] = Field(max_length=MAX_REASONS, description="(reason code, count), most first.")


ChartSpec = Annotated[FunnelChart | AcceptanceChart | ReasonsChart, Field(discriminator="kind")]


class _ChartPayload(BaseModel):
    chart: ChartSpec


def enqueue_charts(session: Session, *, key: str, channel: str, charts: list[FunnelChart | AcceptanceChart | ReasonsChart],
                   now: datetime) -> int:
    """Queue one upload per chart under `key:chart:KIND`, in the caller's transaction; returns how many were new."""
    queued = 0
    for spec in charts:
        queued += enqueue(session, key=f"{key}:chart:{spec.kind}", kind=CHART_KIND,
                          method="files.completeUploadExternal",
                          payload={"channel": channel, "chart": spec.model_dump(mode="json")}, now=now)
    return queued


def render_chart_in_subprocess(data: dict[str, object]) -> tuple[bytes, str]:
    """Draw the chart in a child process and return what `render_chart` returns.

    Loading matplotlib and drawing one chart adds about 55 MB to a process (measured with
    matplotlib 3.11 on Python 3.11). The long-running clock process would keep that memory, so
    the child takes it along when it exits. Charts go out a few times a month, so the second
    or two that the child needs to start does not matter.
    """
    result = subprocess.run([sys.executable, "-m", "bot.charts"], input=json.dumps(data).encode(),
                            capture_output=True, timeout=RENDER_TIMEOUT_SECONDS, check=False)
    if result.returncode != 0:
        # The spec contains counts and labels only, so the child's last error line is safe to repeat.
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        raise ChartError(f"drawing the chart failed (exit {result.returncode}): {lines[-1] if lines else 'no output'}")
    alt_length = int.from_bytes(result.stdout[:4], "big")
    alt = result.stdout[4:4 + alt_length].decode()
    return result.stdout[4 + alt_length:], alt


def _render_from_stdin() -> None:
    """Read a chart spec as JSON on stdin; write the alt text's length (4 bytes), the alt text and the PNG."""
    png, alt = render_chart(json.loads(sys.stdin.buffer.read()))
    encoded = alt.encode()
    sys.stdout.buffer.write(len(encoded).to_bytes(4, "big") + encoded + png)
    sys.stdout.buffer.flush()


def render_chart(data: dict[str, object]) -> tuple[bytes, str]:
    """Draw the chart that `data` describes; return the PNG bytes and an alternative text for screen readers."""
    # matplotlib is imported here, so that only a process that sends charts loads it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    spec = _ChartPayload.model_validate({"chart": data}).chart
    figure = Figure(figsize=FIGURE_INCHES, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if isinstance(spec, FunnelChart):
        alt = _draw_funnel(axes, spec)
    elif isinstance(spec, AcceptanceChart):
        alt = _draw_acceptance(axes, spec)
    else:
        alt = _draw_reasons(axes, spec)
    figure.suptitle(spec.title, x=0.02, ha="left", fontsize=TITLE_SIZE)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue(), alt


def _draw_funnel(axes: Axes, spec: FunnelChart) -> str:
    language = spec.language
    labels = [t(language, f"chart.stage.{stage}") for stage in ("mql", "sal", "sql", "won")]
    values = [spec.mqls, spec.accepted, spec.sqls, spec.won]
    positions = list(range(len(values)))[::-1]
    axes.barh(positions, values, color=[BLUE, GREEN, GREEN, GREEN], height=0.6)
    axes.set_yticks(positions, labels, fontsize=LABEL_SIZE)
    top = max(values) or 1
    axes.set_xlim(0, top * 1.45)
    axes.xaxis.set_visible(False)
    for position, value in zip(positions, values, strict=True):
        share = "" if spec.mqls == 0 or value == spec.mqls else f" ({format_percentage(value / spec.mqls, language)})"
        axes.text(value + top * 0.02, position, f"{format_number(value, language)}{share}", va="center",
                  fontsize=VALUE_SIZE)
    return t(language, "chart.alt.funnel", mqls=t(language, "count.mqls", count=spec.mqls), accepted=spec.accepted,
             sqls=t(language, "count.sqls", count=spec.sqls), won=spec.won)


def _draw_acceptance(axes: Axes, spec: AcceptanceChart) -> str:
    language = spec.language
    positions = list(range(len(spec.weeks)))
    heights = [rate or 0.0 for rate in spec.rates]
    colors = [_rate_color(rate, spec.target) for rate in spec.rates]
    axes.bar(positions, heights, color=colors, width=0.7)
    axes.axhline(spec.target, color=BLUE, linestyle="--", linewidth=2)
    axes.text(-0.4, spec.target + 0.02, t(language, "chart.target", rate=format_percentage(spec.target, language)),
              color=BLUE, fontsize=SMALL_SIZE)
    axes.set_ylim(0, 1.12)
    axes.set_yticks([0, 0.25, 0.5, 0.75, 1.0], [format_percentage(value, language) for value in (0, 0.25, 0.5, 0.75, 1)],
                    fontsize=SMALL_SIZE)
    axes.set_xticks(positions, spec.weeks, fontsize=SMALL_SIZE, rotation=90 if len(spec.weeks) > 8 else 0)
    for position, rate in zip(positions, spec.rates, strict=True):
        label = "–" if rate is None else f"{round(rate * 100)}"
        axes.text(position, (rate or 0) + 0.015, label, ha="center", va="bottom", fontsize=SMALL_SIZE - 1)
    axes.set_ylabel(t(language, "chart.acceptance_axis"), fontsize=LABEL_SIZE)
    known = [rate for rate in spec.rates if rate is not None]
    latest = format_percentage(known[-1], language) if known else t(language, "funnel.no_rate")
    return t(language, "chart.alt.acceptance", count=len(spec.weeks), latest=latest,
             target=format_percentage(spec.target, language))


def _rate_color(rate: float | None, target: float) -> str:
    if rate is None:
        return GREY
    return GREEN if rate >= target else ORANGE


def _draw_reasons(axes: Axes, spec: ReasonsChart) -> str:
    language = spec.language
    if not spec.reasons:
        axes.axis("off")
        axes.text(0.5, 0.5, t(language, "chart.no_rejections"), ha="center", va="center", fontsize=LABEL_SIZE)
        return t(language, "chart.no_rejections")
    labels = [t(language, f"reason.{reason}") if f"reason.{reason}" in MESSAGES else reason for reason, _ in spec.reasons]
    values = [count for _, count in spec.reasons]
    positions = list(range(len(values)))[::-1]
    axes.barh(positions, values, color=ORANGE, height=0.6)
    axes.set_yticks(positions, labels, fontsize=LABEL_SIZE)
    top = max(values) or 1
    axes.set_xlim(0, top * 1.25)
    axes.xaxis.set_visible(False)
    for position, value in zip(positions, values, strict=True):
        axes.text(value + top * 0.02, position, format_number(value, language), va="center", fontsize=VALUE_SIZE)
    listed = ", ".join(f"{label} {value}" for label, value in zip(labels, values, strict=True))
    return t(language, "chart.alt.reasons", reasons=listed)


if __name__ == "__main__":
    _render_from_stdin()
