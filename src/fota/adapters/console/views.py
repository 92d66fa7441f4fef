"""Presentation helpers of the console: formatting, status colours, the progress chart and the 24-hour window strip."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fota.domain.statuses import CampaignStatus, DeviceStatus
from fota.domain.windows import Schedule
from fota.services.insight import NOT_ENROLLED, ProgressPoint, StatusCounts

# Display order of device statuses, with the CSS tone of each.
DEVICE_STATUSES: list[tuple[DeviceStatus, str, str]] = [
    (DeviceStatus.SUCCESS, "Upgraded", "ok"),
    (DeviceStatus.IN_PROGRESS, "In progress", "busy"),
    (DeviceStatus.PENDING, "Pending", "wait"),
    (DeviceStatus.FAILED, "Failed", "bad"),
    (DeviceStatus.REJECTED, "Rejected", "muted"),
    (DeviceStatus.REMOVED, "Removed", "muted"),
    (DeviceStatus.CAMPAIGN_ENDED, "Ended", "muted"),
    (DeviceStatus.CAMPAIGN_CANCELLED, "Cancelled", "muted"),
    (DeviceStatus.CAMPAIGN_ABORTED, "Aborted", "muted"),
]
DEVICE_TONE = {status.value: tone for status, _, tone in DEVICE_STATUSES}
CAMPAIGN_TONE = {
    CampaignStatus.SCHEDULED.value: "busy",
    CampaignStatus.QUEUED.value: "wait",
    CampaignStatus.PRE_SCHEDULED.value: "wait",
    CampaignStatus.REQUEST_PENDING.value: "wait",
    CampaignStatus.ENDED.value: "ok",
    CampaignStatus.CANCELLED.value: "muted",
    CampaignStatus.ABORTED.value: "bad",
    CampaignStatus.FAILED.value: "bad",
    CampaignStatus.REQUEST_FAILED.value: "bad",
}


def when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def when_seconds(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def short_status(value: str) -> str:
    """`CampaignScheduled` -> `Scheduled`, `UpgradeInProgress` -> `In progress`."""
    for status, label, _ in DEVICE_STATUSES:
        if status.value == value:
            return label
    return value.removeprefix("Campaign") or value


def windows_text(schedule: Schedule) -> str:
    if not schedule.windows:
        return "any hour"
    return ", ".join(f"{w.start_hour:02d}:00-{w.end_hour:02d}:00" for w in schedule.windows)


@dataclass(frozen=True)
class Segment:
    x: float
    width: float
    tone: str
    title: str


def status_bar(counts: StatusCounts) -> list[Segment]:
    """Stacked bar over the enrolled devices (the base of the progress figure), one segment per status."""
    total = counts.enrolled
    segments: list[Segment] = []
    x = 0.0
    for status, label, tone in DEVICE_STATUSES:
        n = counts.of(status)
        if n and total and status not in NOT_ENROLLED:
            width = 100.0 * n / total
            segments.append(Segment(round(x, 3), round(width, 3), tone, f"{label}: {n}"))
            x += width
    return segments


@dataclass(frozen=True)
class Strip:
    open_hours: list[tuple[int, int]]
    now_hour: float | None  # position of "now" in the campaign's zone, when it is live today
    zone: str


def window_strip(schedule: Schedule, now: datetime) -> Strip:
    hours = [(w.start_hour, w.end_hour) for w in schedule.windows] or [(0, 24)]
    local = now.astimezone(schedule.zone)
    position = local.hour + local.minute / 60 if schedule.is_live(now) else None
    return Strip(hours, position, schedule.time_zone)


@dataclass(frozen=True)
class Chart:
    """An SVG line chart in a fixed 600x180 viewBox; paths are ready for `d` attributes."""

    ok_path: str
    ok_area: str
    failed_path: str
    y_max: int
    y_ticks: list[tuple[float, int]]
    x_labels: list[tuple[float, str]]
    empty: bool


CHART_W, CHART_H, PAD_L, PAD_B, PAD_T = 600.0, 180.0, 40.0, 22.0, 8.0


def progress_chart(points: list[ProgressPoint], enrolled: int) -> Chart:
    y_max = max(enrolled, max((p.succeeded + p.failed for p in points), default=0), 1)
    plot_w, plot_h = CHART_W - PAD_L - 8, CHART_H - PAD_B - PAD_T

    def xy(i: int, value: int) -> str:
        x = PAD_L + plot_w * i / max(len(points) - 1, 1)
        y = PAD_T + plot_h * (1 - value / y_max)
        return f"{x:.1f},{y:.1f}"

    ok = [xy(i, p.succeeded) for i, p in enumerate(points)]
    failed = [xy(i, p.failed) for i, p in enumerate(points)]
    base = f"{PAD_L + plot_w:.1f},{PAD_T + plot_h:.1f} {PAD_L:.1f},{PAD_T + plot_h:.1f}"
    ticks = [(PAD_T + plot_h * (1 - f), round(y_max * f)) for f in (0.0, 0.5, 1.0)]
    labels: list[tuple[float, str]] = []
    if points:
        span = points[-1].at - points[0].at
        fmt = "%H:%M:%S" if span < timedelta(minutes=10) else "%H:%M" if span < timedelta(days=2) else "%m-%d %H:%M"
        for i in (0, len(points) // 2, len(points) - 1):
            labels.append((PAD_L + plot_w * i / max(len(points) - 1, 1), points[i].at.strftime(fmt)))
    return Chart(
        ok_path="M" + " L".join(ok) if ok else "",
        ok_area=("M" + " L".join(ok) + " L" + base.replace(" ", " L") + " Z") if ok else "",
        failed_path="M" + " L".join(failed) if failed and any(p.failed for p in points) else "",
        y_max=y_max,
        y_ticks=ticks,
        x_labels=labels,
        empty=not any(p.succeeded or p.failed for p in points),
    )
