"""The CoRE link format of Register/Update payloads: real clients' payloads, alternate roots and garbage."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fota.adapters.lwm2m.codec import CodecError, Link, parse_link_format, supported_objects


def test_lwm2m_1_1_payload_with_root_link():
    parsed = parse_link_format('</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>;ver=1.1,</5/0>')
    assert parsed.root == "/"
    assert parsed.links == [
        Link((), {"rt": "oma.lwm2m", "ct": "11543"}),
        Link((1, 0), {}),
        Link((3, 0), {"ver": "1.1"}),
        Link((5, 0), {}),
    ]
    assert supported_objects(parsed.links) == {1, 3, 5}


def test_wakaama_lwm2m_1_0_client():
    # Wakaama's lwm2mclient (LwM2M 1.0) with its test objects.
    payload = b'</>;rt="oma.lwm2m",</1/0>,</2/0>,</3/0>,</4/0>,</5/0>,</6/0>,</7/0>,</31024/10>,</31024/11>,</31024/12>'
    parsed = parse_link_format(payload)
    assert supported_objects(parsed.links) == {1, 2, 3, 4, 5, 6, 7, 31024}
    assert parsed.links[-1] == Link((31024, 12), {})


def test_wakaama_lwm2m_1_1_client_with_versions_and_trailing_space():
    # From Wakaama's registration tests: object-level links with ver, ct on the root link, a trailing space.
    payload = (
        '</>;rt="oma.lwm2m";ct=110,</28180>;ver=0.4,</28152>;ver=0.2,'
        "</30000>;ver=0.1,</28181>;ver=0.2,</28183>;ver=0.1,"
        "</28182>;ver=0.2,</1>,</3>;ver=1.0,</4>;ver=1.2,</5>;ver=1.0 "
    )
    parsed = parse_link_format(payload)
    assert parsed.links[0] == Link((), {"rt": "oma.lwm2m", "ct": "110"})
    assert Link((4,), {"ver": "1.2"}) in parsed.links
    assert supported_objects(parsed.links) == {1, 3, 4, 5, 28152, 28180, 28181, 28182, 28183, 30000}
    assert parse_link_format('</1/0>,</3/0>;ver="1.2"').links[1] == Link((3, 0), {"ver": "1.2"})


def test_anjay_demo_client_1_0_and_1_1():
    # Anjay's integration tests: its demo client registers without a root link; Security (/0) is never listed.
    payload_1_0 = (
        b"</1/1>,</2>,</3/0>,</4/0>,</5/0>,</6/0>,</7/0>,"
        b"</10/0>,</11>,</1337>,</11111/0>,</12359/0>,</12360>,</12361/0>"
    )
    payload_1_1 = (
        b"</1/1>,</2>,</3/0>,</4/0>,</5/0>,</6/0>,</7/0>,"
        b'</10>;ver="1.1",</10/0>,</11>,</16>,</1337>,</11111/0>,'
        b"</12359/0>,</12360>,</12361/0>"
    )
    parsed = parse_link_format(payload_1_0)
    assert parsed.root == "/"
    assert parsed.links[0] == Link((1, 1), {})
    assert Link((2,), {}) in parsed.links
    assert supported_objects(parsed.links) == {1, 2, 3, 4, 5, 6, 7, 10, 11, 1337, 11111, 12359, 12360, 12361}
    parsed = parse_link_format(payload_1_1)
    assert Link((10,), {"ver": "1.1"}) in parsed.links
    assert 16 in supported_objects(parsed.links)


def test_leshan_client_with_quoted_content_formats():
    # Leshan's client: the root link lists its content formats in one quoted, space-separated ct.
    payload = (
        '</>;rt="oma.lwm2m";ct="60 110 112 1542 1543 11542 11543",'
        "</1>;ver=1.1,</1/0>,</2>,</3>;ver=1.1,</3/0>,</3442/0>"
    )
    parsed = parse_link_format(payload)
    assert parsed.links[0].attributes["ct"] == "60 110 112 1542 1543 11542 11543"
    assert Link((3,), {"ver": "1.1"}) in parsed.links
    assert supported_objects(parsed.links) == {1, 2, 3, 3442}


def test_alternate_root_path():
    parsed = parse_link_format('</lwm2m>;rt="oma.lwm2m", </lwm2m/1/0>, </lwm2m/3/0>, </lwm2m/5/0>')
    assert parsed.root == "/lwm2m"
    assert [link.path for link in parsed.links] == [(), (1, 0), (3, 0), (5, 0)]
    with pytest.raises(CodecError, match="root"):
        parse_link_format('</lwm2m>;rt="oma.lwm2m",</1/0>')


def test_whitespace_quotes_and_valueless_attributes():
    parsed = parse_link_format(' </3/0> ; ver = "1.1" ;obs ,\n\t</5/0>;title="a \\"quoted\\" name, with; separators" ')
    assert parsed.links == [
        Link((3, 0), {"ver": "1.1", "obs": ""}),
        Link((5, 0), {"title": 'a "quoted" name, with; separators'}),
    ]


def test_empty_payload():
    assert parse_link_format(b"").links == []
    assert parse_link_format("  ").root == "/"


@pytest.mark.parametrize(
    "payload",
    [
        "garbage",
        "</1/0",
        "</1/0>,",
        "</1/0>;",
        "</1/0>;=1",
        "</1/0> </3/0>",
        "</1/0>,3/0",
        "</>;ct=110,112",
        '</1/0>;rt="unterminated',
        "</abc>",
        "</1/0/1/2/3>",
        "</70000>",
        "</1/0>;ver=1;ver=2",
        '</>;rt="oma.lwm2m",</x>;rt="oma.lwm2m"',
        b"</1/\xff>",
    ],
)
def test_garbage_is_refused(payload):
    with pytest.raises(CodecError):
        parse_link_format(payload)


@given(st.text(max_size=80))
def test_random_text_never_raises_anything_but_codec_error(text: str):
    with contextlib.suppress(CodecError):
        parse_link_format(text)


@given(st.lists(st.tuples(st.integers(0, 65535), st.integers(0, 65535)), max_size=10))
def test_generated_payloads_parse(pairs):
    payload = ",".join(f"</{o}/{i}>" for o, i in pairs)
    assert supported_objects(parse_link_format(payload).links) == {o for o, _ in pairs}
