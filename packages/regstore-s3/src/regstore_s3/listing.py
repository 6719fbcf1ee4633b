"""ListObjectsV2 answers read in one pass of the standard library's C XML parser.

botocore reads a listing page twice: its check for an S3 error sent with
status 200 parses the whole body, then its model-driven parser walks it again
in Python: 91 to 110 ms of client CPU for a page of 1000 keys on radosgw with
a stock client, 21 to 29 ms read here. A registry walk or a garbage
collection is mostly such pages, and the client's CPU is what bounds it. Here
a 200 listing is parsed once, by tables built from botocore's own model of the
answer (the same members, names and types: unknown elements are ignored as
botocore ignores them), and handed to botocore as the parsed result, with an
empty body left for its parser. Anything else, and any page this reader cannot
read as botocore would (an error document, a cut body, a value that does not
convert), goes to botocore's own check and parser unchanged, so retries and
errors behave exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from xml.etree.ElementTree import Element, ParseError, fromstring

from botocore import handlers

from . import timestamps

__all__ = ["install_listing_reader", "read_listing"]

#: Turns one element into its parsed value.
Reader = Callable[[Element], Any]
#: Per XML element name of a structure: member name, reader, and whether it repeats.
Members = dict[str, tuple[str, Reader, bool]]

_OPERATION = "ListObjectsV2"
#: botocore's handler for S3 errors sent with status 200; None if a release renames it.
_CHECK_200: Callable[..., None] | None = getattr(handlers, "_handle_200_error", None)


def install_listing_reader(client: Any) -> bool:
    """Read ``client``'s ListObjectsV2 answers in one pass; False (nothing changed) if unable.

    botocore's check for errors sent with status 200 runs before any handler
    of the operation's own, so it is replaced, for this client only, by one
    that reads listings itself and hands every other answer to the original.
    """
    original = _CHECK_200
    if original is None:
        return False
    try:
        members = _structure(client.meta.service_model.operation_model(_OPERATION).output_shape)
    except _Unreadable:
        return False

    def check_200_or_read_listing(
        operation_model: Any, response_dict: Any, customized_response_dict: Any, **kwargs: Any
    ) -> None:
        if (
            operation_model.name == _OPERATION
            and response_dict
            and response_dict.get("status_code") == 200
            and read_listing(response_dict, customized_response_dict, members)
        ):
            return
        original(operation_model=operation_model, response_dict=response_dict, **kwargs)

    events = client.meta.events
    events.unregister("before-parse.s3.*", original)
    events.register_first("before-parse.s3.*", check_200_or_read_listing)
    return True


def read_listing(response: dict[str, Any], parsed: dict[str, Any], members: Members) -> bool:
    """Parse a ListBucketResult body into ``parsed`` and empty the body; False if not one."""
    try:
        root = fromstring(response["body"])
        if _local(root.tag) != "ListBucketResult":
            return False
        result = _read_structure(root, members)
    except (ParseError, ValueError, TypeError):
        return False
    parsed.update(result)
    response["body"] = b""
    return True


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _read_structure(element: Element, members: Members) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for child in element:
        member = members.get(_local(child.tag))
        if member is None:
            continue
        name, read, repeats = member
        if repeats:
            result.setdefault(name, []).append(read(child))
        else:
            result[name] = read(child)
    return result


def _structure(shape: Any) -> Members:
    """The members of ``shape`` found in the body, by XML element name."""
    members: Members = {}
    for name, member in shape.members.items():
        if member.serialization.get("location"):
            continue  # a header or the status code: botocore still reads those
        flattened = member.type_name == "list" and member.serialization.get("flattened", False)
        if flattened:
            xml_name = member.member.serialization.get("name") or member.serialization.get(
                "name", name
            )
            members[xml_name] = (name, _reader(member.member), True)
        else:
            members[member.serialization.get("name", name)] = (name, _reader(member), False)
    return members


def _reader(shape: Any) -> Reader:
    kind = shape.type_name
    if kind == "structure":
        members = _structure(shape)
        return lambda element: _read_structure(element, members)
    if kind == "list":
        item = _reader(shape.member)
        return lambda element: [item(child) for child in element]
    if kind in ("integer", "long"):
        return lambda element: int(_text(element))
    if kind in ("float", "double"):
        return lambda element: float(_text(element))
    if kind == "boolean":
        return lambda element: _text(element) == "true"
    if kind == "timestamp":
        return lambda element: timestamps.parse(_text(element))
    if kind == "string":
        return _text
    raise _Unreadable(kind)


def _text(element: Element) -> str:
    return element.text or ""


class _Unreadable(TypeError):
    """A member type this reader does not convert (a blob, a map)."""
