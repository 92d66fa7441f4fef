"""Rules the services enforce, stated in the OpenAPI schema only (`json_schema_extra`): pydantic does not check
them, so a request that breaks one still gets the service's own 400 `{errorCode, errorMessage}`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fota.domain.bandwidth import MAX_BYTES_PER_HOUR, MIN_BYTES_PER_HOUR
from fota.domain.outbound import MAX_URL_CHARS
from fota.domain.statuses import CampaignStatus
from fota.domain.upgrade import Failure
from fota.domain.upgrade.retry import MAX_ATTEMPTS, MAX_BACKOFF_SECONDS, MAX_BACKOFF_STEPS

IMEI: dict[str, Any] = {"pattern": r"^[0-9]{15}$"}
IMEI_LIST: dict[str, Any] = {"pattern": r"^([0-9]{15}(,[0-9]{15})*)?$"}
NOT_EMPTY: dict[str, Any] = {"minLength": 1}
# `domain.campaign.parse_date` takes any ISO 8601 date; YYYY-MM-DD is the contract's spelling.
DATE: dict[str, Any] = {"format": "date"}
NOT_EMPTY_LIST: dict[str, Any] = {"minItems": 1}
# A multipart file part the service requires: a string of bytes, never null.
FILE_PART: dict[str, Any] = {"type": "string", "contentMediaType": "application/octet-stream"}
# `Protocol.parse`'s spellings; it also takes them in any case, with surrounding spaces.
PROTOCOLS: dict[str, Any] = {"enum": ["LWM2M", "HTTP", "OMA-DM", "OMA", "OMADM", "OMD-DM", "OMDADM"]}
PROTOCOL_FILTER: dict[str, Any] = {"enum": [*PROTOCOLS["enum"], "all", ""]}  # "", like none: the default
# `CampaignStatus.parse`: every status, and the SDK enum's spelling of the queued one.
CAMPAIGN_STATUSES: dict[str, Any] = {"enum": [*(s.value for s in CampaignStatus), "CampaignRequestQueued"]}
# `outbound.parse_destination`'s checks before any name is resolved (plain http only where the operator allows it);
# the deployment's policy decides the rest.
CALLBACK_URL: dict[str, Any] = {
    "pattern": "^https://[^/?#]+",
    "maxLength": MAX_URL_CHARS,
    "examples": ["https://callbacks.example.com/fota"],
}

# `RetryPolicy.from_plain`: every field optional (a missing one keeps the server's rule), no other field.
_RETRY_POLICY_OBJECT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "maxAttempts": {"type": "integer", "minimum": 1, "maximum": MAX_ATTEMPTS},
        "backoffSeconds": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_BACKOFF_STEPS,
            "items": {"type": "integer", "minimum": 1, "maximum": MAX_BACKOFF_SECONDS},
        },
        "neverRetry": {"type": "array", "items": {"enum": [f.value for f in Failure]}},
    },
}


def retry_policy(*, echoed: bool) -> Callable[[dict[str, Any]], None]:
    """A `retryPolicy` field's `json_schema_extra`: its object branch gets the contract's fields; `echoed`: a
    response's, which always has all three."""

    def state(schema: dict[str, Any]) -> None:
        described = {**_RETRY_POLICY_OBJECT, "required": list(_RETRY_POLICY_OBJECT["properties"])}
        for choice in schema.get("anyOf", []):
            if choice.get("type") == "object":
                choice.clear()
                choice.update(described if echoed else _RETRY_POLICY_OBJECT)
        schema["examples"] = [{"maxAttempts": 3, "backoffSeconds": [300, 3600], "neverRetry": ["IntegrityFailure"]}]

    return state


WINDOW_ZONES: dict[str, Any] = {"enum": ["campaign", "device"]}

BLACKOUTS: dict[str, Any] = {
    "items": {
        "type": "object",
        "required": ["from", "to"],
        "properties": {
            "from": {"type": "string", "examples": ["2030-12-24T00:00"]},
            "to": {"type": "string", "examples": ["2030-12-27T00:00"]},
            "reason": {"type": "string"},
        },
    },
    "examples": [[{"from": "2030-12-24T00:00", "to": "2030-12-27T00:00", "reason": "holiday freeze"}]],
}


# `BandwidthBudget.from_plain`: the one field, a whole number of bytes.
BANDWIDTH: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["bytesPerHour"],
    "properties": {
        "bytesPerHour": {"type": "integer", "minimum": MIN_BYTES_PER_HOUR, "maximum": MAX_BYTES_PER_HOUR},
    },
}


def bandwidth(schema: dict[str, Any]) -> None:
    """A `bandwidth` field's `json_schema_extra`: its object branch gets the contract's field."""
    for choice in schema.get("anyOf", []):
        if choice.get("type") == "object":
            choice.clear()
            choice.update(BANDWIDTH)
    schema["examples"] = [{"bytesPerHour": 5_000_000_000}]


def one_of(*values: str) -> dict[str, Any]:
    return {"enum": list(values)}


def required(*names: str) -> Callable[[dict[str, Any]], None]:
    """A model's `json_schema_extra` naming optional fields (wire names) whose absence the service refuses: the
    schema lists them as required, and not null."""

    def state(schema: dict[str, Any]) -> None:
        schema["required"] = [*schema.get("required", []), *(n for n in names if n not in schema.get("required", []))]
        for name in names:
            field = schema["properties"][name]
            field.pop("default", None)
            choices = field.pop("anyOf", None)
            if choices is not None:
                field.update(next(choice for choice in choices if choice.get("type") != "null"))

    return state
