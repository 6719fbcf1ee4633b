"""Option readers storage middleware share: base URLs.

They extend ``regstore.params.Parameters`` (which middleware use for every
option, Go durations included) and raise ``InvalidParameterError`` naming the
option and what is allowed.
"""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from ..params import Parameters

__all__ = ["base_url"]


def base_url(params: Parameters, key: str, *, default_scheme: str | None = None) -> SplitResult:
    """An absolute ``scheme://host[/path]`` URL without query or fragment.

    With ``default_scheme``, a value without ``://`` gets that scheme, as the
    registry's cloudfront middleware does with ``https://``.
    """
    text = params.string(key, required=True)
    assert text is not None
    if default_scheme is not None and "://" not in text:
        text = f"{default_scheme}://{text}"
    example = f"an absolute URL such as https://cdn.example.com/registry, got {text!r}"
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        params.fail(key, f"cannot be parsed ({exc}); it must be {example}")
    if not parts.scheme or "://" not in text:
        params.fail(key, f"has no scheme; it must be {example}")
    if not parts.netloc:
        params.fail(key, f"has no host; it must be {example}")
    if parts.query or parts.fragment:
        params.fail(key, f"must not carry a query or a fragment; it must be {example}")
    return parts
