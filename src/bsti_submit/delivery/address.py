"""Where cleaned instances go, as the user writes it: an https:// endpoint or a folder."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import UsageError

# What a destination that was meant as a URL looks like: a scheme (two letters or more: one
# letter is a Windows drive), a scheme whose colon was lost (`https//host`), or a host name with
# a dotted domain or a port before its first slash (`pacs.trust.nhs.uk/dicom-web`).
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
_LOST_COLON = re.compile(r"^[A-Za-z]+//")
_HOST_FIRST = re.compile(
    r"^(?:localhost|\d{1,3}(?:\.\d{1,3}){3}|[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,})(?::\d+)?/"
)


def parse_destination(text: str) -> str | Path:
    """A destination as given: an endpoint's https:// base URL (its scheme in any case, given
    back in lower case) or a folder. Anything URL-like that is not https:// is refused, so a
    mistyped URL never becomes a folder of de-identified files named after it."""
    scheme = _SCHEME.match(text)
    if scheme and scheme.group(1).lower() == "https" and text[scheme.end() :].startswith("//"):
        return "https://" + text[scheme.end() + 2 :]
    if scheme or _LOST_COLON.match(text) or (_HOST_FIRST.match(text) and not Path(text).exists()):
        raise UsageError(
            f"{text} is not an https:// URL: give the endpoint as https://HOST/PATH (a folder "
            "whose name looks like a URL: start it with ./ or give its full path)"
        )
    return Path(text)


def is_url(destination: str | Path) -> bool:
    """Whether a destination names an endpoint rather than a folder."""
    return isinstance(destination, str) and isinstance(parse_destination(destination), str)
