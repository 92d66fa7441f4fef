"""Paths, values and the object model: resource types of Security (0), Server (1), Device (3) and Firmware Update (5).

`coerce` checks a decoded value against its resource's type, for formats that carry their own types (SenML, CBOR).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from fota.adapters.lwm2m.codec.errors import CodecError

# (object, instance, resource[, resource instance]); shorter for requests on an object or an instance.
Path = tuple[int, ...]
# An Objlnk is (object id, object instance id).
Value = int | float | bool | str | bytes | tuple[int, int]

MAX_ID = 65535


class ResourceType(StrEnum):
    STRING = "String"
    INTEGER = "Integer"
    UNSIGNED_INTEGER = "Unsigned Integer"
    FLOAT = "Float"
    BOOLEAN = "Boolean"
    OPAQUE = "Opaque"
    TIME = "Time"
    OBJLNK = "Objlnk"
    NONE = "None"  # executable resources carry no value


@dataclass(frozen=True)
class ResourceModel:
    id: int
    name: str
    type: ResourceType
    multiple: bool = False
    operations: str = "R"


@dataclass(frozen=True)
class ObjectModel:
    id: int
    name: str
    resources: Mapping[int, ResourceModel]


Model = Mapping[int, ObjectModel]


def _object(object_id: int, name: str, *resources: ResourceModel) -> ObjectModel:
    return ObjectModel(object_id, name, {resource.id: resource for resource in resources})


_S, _I, _U, _B, _O, _T, _L, _N = (
    ResourceType.STRING,
    ResourceType.INTEGER,
    ResourceType.UNSIGNED_INTEGER,
    ResourceType.BOOLEAN,
    ResourceType.OPAQUE,
    ResourceType.TIME,
    ResourceType.OBJLNK,
    ResourceType.NONE,
)

# LwM2M Security (0) and Server (1): what a bootstrap writes and a client decodes (LwM2M 1.1 object versions; the
# 1.0 objects are their first resources).
SECURITY = _object(
    0,
    "LwM2M Security",
    ResourceModel(0, "LwM2M Server URI", _S),
    ResourceModel(1, "Bootstrap-Server", _B),
    ResourceModel(2, "Security Mode", _I),
    ResourceModel(3, "Public Key or Identity", _O),
    ResourceModel(4, "Server Public Key", _O),
    ResourceModel(5, "Secret Key", _O),
    ResourceModel(10, "Short Server ID", _I),
    ResourceModel(11, "Client Hold Off Time", _I),
    ResourceModel(12, "Bootstrap-Server Account Timeout", _I),
)

SERVER = _object(
    1,
    "LwM2M Server",
    ResourceModel(0, "Short Server ID", _I),
    ResourceModel(1, "Lifetime", _I, operations="RW"),
    ResourceModel(2, "Default Minimum Period", _I, operations="RW"),
    ResourceModel(3, "Default Maximum Period", _I, operations="RW"),
    ResourceModel(4, "Disable", _N, operations="E"),
    ResourceModel(5, "Disable Timeout", _I, operations="RW"),
    ResourceModel(6, "Notification Storing When Disabled or Offline", _B, operations="RW"),
    ResourceModel(7, "Binding", _S, operations="RW"),
    ResourceModel(8, "Registration Update Trigger", _N, operations="E"),
    ResourceModel(9, "Bootstrap-Request Trigger", _N, operations="E"),
    ResourceModel(16, "Bootstrap on Registration Failure", _B),
    ResourceModel(17, "Communication Retry Count", _U, operations="RW"),
    ResourceModel(18, "Communication Retry Timer", _U, operations="RW"),
    ResourceModel(19, "Communication Sequence Delay Timer", _U, operations="RW"),
    ResourceModel(20, "Communication Sequence Retry Count", _U, operations="RW"),
)

DEVICE = _object(
    3,
    "Device",
    ResourceModel(0, "Manufacturer", _S),
    ResourceModel(1, "Model Number", _S),
    ResourceModel(2, "Serial Number", _S),
    ResourceModel(3, "Firmware Version", _S),
    ResourceModel(4, "Reboot", _N, operations="E"),
    ResourceModel(5, "Factory Reset", _N, operations="E"),
    ResourceModel(6, "Available Power Sources", _I, multiple=True),
    ResourceModel(7, "Power Source Voltage", _I, multiple=True),
    ResourceModel(8, "Power Source Current", _I, multiple=True),
    ResourceModel(9, "Battery Level", _I),
    ResourceModel(10, "Memory Free", _I),
    ResourceModel(11, "Error Code", _I, multiple=True),
    ResourceModel(12, "Reset Error Code", _N, operations="E"),
    ResourceModel(13, "Current Time", _T, operations="RW"),
    ResourceModel(14, "UTC Offset", _S, operations="RW"),
    ResourceModel(15, "Timezone", _S, operations="RW"),
    ResourceModel(16, "Supported Binding and Modes", _S),
    ResourceModel(17, "Device Type", _S),
    ResourceModel(18, "Hardware Version", _S),
    ResourceModel(19, "Software Version", _S),
    ResourceModel(20, "Battery Status", _I),
    ResourceModel(21, "Memory Total", _I),
    ResourceModel(22, "ExtDevInfo", _L, multiple=True),
)

FIRMWARE_UPDATE = _object(
    5,
    "Firmware Update",
    ResourceModel(0, "Package", _O, operations="W"),
    ResourceModel(1, "Package URI", _S, operations="RW"),
    ResourceModel(2, "Update", _N, operations="E"),
    ResourceModel(3, "State", _I),
    # Object 5 version 1.0 only (LwM2M 1.0 clients); dropped from version 1.1 of the object.
    ResourceModel(4, "Update Supported Objects", _B, operations="RW"),
    ResourceModel(5, "Update Result", _I),
    ResourceModel(6, "PkgName", _S),
    ResourceModel(7, "PkgVersion", _S),
    ResourceModel(8, "Firmware Update Protocol Support", _I, multiple=True),
    ResourceModel(9, "Firmware Update Delivery Method", _I),
    ResourceModel(10, "Cancel", _N, operations="E"),
    ResourceModel(11, "Severity", _I, operations="RW"),
    ResourceModel(12, "Last State Change Time", _T),
    ResourceModel(13, "Maximum Defer Period", _U, operations="RW"),
)

DEFAULT_MODEL: Model = {obj.id: obj for obj in (SECURITY, SERVER, DEVICE, FIRMWARE_UPDATE)}

# The resources the firmware-upgrade flow reads, writes, observes and executes.
MANUFACTURER: Path = (3, 0, 0)
MODEL_NUMBER: Path = (3, 0, 1)
FIRMWARE_VERSION: Path = (3, 0, 3)
FW_PACKAGE: Path = (5, 0, 0)
FW_PACKAGE_URI: Path = (5, 0, 1)
FW_UPDATE: Path = (5, 0, 2)
FW_STATE: Path = (5, 0, 3)
FW_UPDATE_RESULT: Path = (5, 0, 5)
FW_PROTOCOL_SUPPORT: Path = (5, 0, 8)
FW_DELIVERY_METHOD: Path = (5, 0, 9)


def resource_model(model: Model, path: Path) -> ResourceModel | None:
    """The model of the resource a path of three or four ids points into, or None when it is not known."""
    if len(path) < 3:
        return None
    obj = model.get(path[0])
    return None if obj is None else obj.resources.get(path[2])


def format_path(path: Path) -> str:
    return "/" + "/".join(str(part) for part in path)


def check_path(path: Path, *, min_len: int = 1, max_len: int = 4) -> Path:
    if not min_len <= len(path) <= max_len:
        raise CodecError(f"path {format_path(path)} must have {min_len} to {max_len} ids")
    for part in path:
        if isinstance(part, bool) or not isinstance(part, int) or not 0 <= part <= MAX_ID:
            raise CodecError(f"path {path!r}: ids are integers 0..{MAX_ID}")
    return path


def parse_objlnk(text: str) -> tuple[int, int]:
    """'66:0' -> (66, 0), the text form of an Objlnk (plain text, SenML vlo, CBOR)."""
    object_id, sep, instance_id = text.partition(":")
    if not sep or not object_id.isdigit() or not instance_id.isdigit() or not object_id.isascii():
        raise CodecError(f"object link {text!r} is not of the form '<object>:<instance>'")
    link = (int(object_id), int(instance_id))
    check_objlnk(link)
    return link


def check_objlnk(link: tuple[int, int]) -> tuple[int, int]:
    if len(link) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= MAX_ID for x in link):
        raise CodecError(f"object link {link!r} must be two ids 0..{MAX_ID}")
    return link


def decode_base64(text: str, where: str) -> bytes:
    """Standard or URL-safe alphabet, padding optional: senders differ (RFC 8428 vd is base64url without padding)."""
    normalized = text.replace("-", "+").replace("_", "/").rstrip("=")
    try:
        return base64.b64decode(normalized + "=" * (-len(normalized) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CodecError(f"{where}: {text[:40]!r} is not base64") from exc


def coerce(path: Path, value: Value, model: Model) -> Value:
    """Check a self-typed value (SenML, CBOR, OMA JSON) against the model; unknown resources keep their value."""
    resource = resource_model(model, path)
    if resource is None or resource.type is ResourceType.NONE:
        return value
    where = f"{format_path(path)} ({resource.name}, {resource.type})"
    kind = resource.type
    if kind is ResourceType.STRING and isinstance(value, str):
        return value
    if kind is ResourceType.BOOLEAN and isinstance(value, bool):
        return value
    if isinstance(value, bool):
        raise CodecError(f"{where}: got a boolean")
    if kind in (ResourceType.INTEGER, ResourceType.TIME, ResourceType.UNSIGNED_INTEGER):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int):
            if kind is ResourceType.UNSIGNED_INTEGER and value < 0:
                raise CodecError(f"{where}: {value} is negative")
            return value
    if kind is ResourceType.FLOAT and isinstance(value, int | float):
        return float(value)
    if kind is ResourceType.OPAQUE:
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):  # text-carried opaque (OMA JSON "sv") is base64
            return decode_base64(value, where)
    if kind is ResourceType.OBJLNK:
        if isinstance(value, tuple):
            return check_objlnk(value)
        if isinstance(value, str):  # plain CBOR carries an Objlnk as text
            return parse_objlnk(value)
    raise CodecError(f"{where}: got {type(value).__name__} {value!r:.40}")
