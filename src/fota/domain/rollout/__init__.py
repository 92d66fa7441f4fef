"""Staged rollouts (issue 13, fota-extensions.md §1-§3): the `rollout` field (spec.py) and wave membership
(plan.py)."""

from fota.domain.rollout.plan import (
    DeviceTraits,
    Group,
    GroupCount,
    Membership,
    WavePlan,
    plan_waves,
    wave_for_late_device,
    wave_sizes,
)
from fota.domain.rollout.spec import (
    AbortRule,
    AdvanceRule,
    CanaryMode,
    RolloutSpec,
    WaveSpec,
    default_wave_name,
    parse_rollout,
)

__all__ = [
    "AbortRule",
    "AdvanceRule",
    "CanaryMode",
    "DeviceTraits",
    "Group",
    "GroupCount",
    "Membership",
    "RolloutSpec",
    "WavePlan",
    "WaveSpec",
    "default_wave_name",
    "parse_rollout",
    "plan_waves",
    "wave_for_late_device",
    "wave_sizes",
]
