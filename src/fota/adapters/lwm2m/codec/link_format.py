"""CoRE Link Format (RFC 6690) of the Register/Update payload: the client's objects, instances and its root path.

`</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>;ver=1.1` -> links with paths and attributes; an rt="oma.lwm2m" link
names the alternate root path (LwM2M 1.0 §5.3.1, 1.1 §6.2.1) that prefixes the object links.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fota.adapters.lwm2m.codec.errors import CodecError
from fota.adapters.lwm2m.codec.model import MAX_ID, Path

ROOT_RESOURCE_TYPE = "oma.lwm2m"
_WHITESPACE = " \t\r\n"
# RFC 5987 token characters of a parmname; ptoken (RFC 6690) for unquoted values adds a few more.
_TOKEN = frozenset("!#$&+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_PTOKEN = _TOKEN | frozenset("%'()*/:<=>?@[]{}")


@dataclass(frozen=True)
class Link:
    path: Path  # relative to the root; () for the root link itself
    attributes: dict[str, str] = field(default_factory=dict)  # valueless attributes map to ""


@dataclass(frozen=True)
class RegistrationLinks:
    links: list[Link]
    root: str = "/"  # the alternate root path, "/" when the client has none


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "the end"
            raise CodecError(f"link format: expected {char!r} at character {self.pos}, found {found}")
        self.pos += 1

    def take(self, allowed: frozenset[str]) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in allowed:
            self.pos += 1
        return self.text[start : self.pos]

    def quoted(self) -> str:
        self.expect('"')
        out: list[str] = []
        while True:
            char = self.peek()
            if not char:
                raise CodecError("link format: unterminated quoted string")
            self.pos += 1
            if char == '"':
                return "".join(out)
            if char == "\\":
                char = self.peek()
                if not char:
                    raise CodecError("link format: unterminated quoted string")
                self.pos += 1
            out.append(char)


def _link(scanner: _Scanner) -> tuple[str, dict[str, str]]:
    scanner.expect("<")
    end = scanner.text.find(">", scanner.pos)
    if end < 0:
        raise CodecError(f"link format: '<' at character {scanner.pos - 1} is never closed")
    uri = scanner.text[scanner.pos : end].strip()
    scanner.pos = end + 1
    attributes: dict[str, str] = {}
    scanner.skip_space()
    while scanner.peek() == ";":
        scanner.pos += 1
        scanner.skip_space()
        name = scanner.take(_TOKEN)
        if not name:
            raise CodecError(f"link format: attribute name expected at character {scanner.pos} of <{uri}>")
        scanner.skip_space()
        value = ""
        if scanner.peek() == "=":
            scanner.pos += 1
            scanner.skip_space()
            value = scanner.quoted() if scanner.peek() == '"' else scanner.take(_PTOKEN)
            scanner.skip_space()
        if name in attributes:
            raise CodecError(f"link format: <{uri}> has attribute {name!r} twice")
        attributes[name] = value
    return uri, attributes


def _segments(uri: str) -> list[str]:
    return [part for part in uri.strip("/").split("/") if part] if uri.strip("/") else []


def _path(uri: str, root: list[str]) -> Path:
    parts = _segments(uri)
    if parts[: len(root)] != root:
        raise CodecError(f"link format: <{uri}> is not under the root path /{'/'.join(root)}")
    ids = parts[len(root) :]
    if len(ids) > 4 or not all(part.isascii() and part.isdigit() and int(part) <= MAX_ID for part in ids):
        raise CodecError(f"link format: <{uri}> is not an LwM2M object path like </3/0>")
    return tuple(int(part) for part in ids)


def parse_link_format(payload: bytes | str) -> RegistrationLinks:
    """Parse a Register/Update payload; whitespace around separators is tolerated, anything else malformed is not."""
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CodecError(f"link format is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    scanner = _Scanner(payload)
    raw: list[tuple[str, dict[str, str]]] = []
    scanner.skip_space()
    while scanner.peek():
        raw.append(_link(scanner))
        if scanner.peek() == ",":
            scanner.pos += 1
            scanner.skip_space()
            if not scanner.peek():
                raise CodecError("link format: trailing ',' without a link")
        elif scanner.peek():
            raise CodecError(f"link format: expected ',' or ';' at character {scanner.pos}, found {scanner.peek()!r}")
    roots = [uri for uri, attributes in raw if attributes.get("rt") == ROOT_RESOURCE_TYPE]
    if len(roots) > 1:
        raise CodecError(f'link format: more than one link with rt="{ROOT_RESOURCE_TYPE}"')
    root = _segments(roots[0]) if roots else []
    links = [Link(_path(uri, root), attributes) for uri, attributes in raw]
    return RegistrationLinks(links, "/" + "/".join(root))


def supported_objects(links: Iterable[Link]) -> set[int]:
    """The object ids the client announced, with or without instances."""
    return {link.path[0] for link in links if link.path}
