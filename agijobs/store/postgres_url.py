"""A postgresql:// --storage value, read without the driver: which fabric it names, and how
it is printed (without its password). Kept apart from `postgres` so that a message can name
the URL where the driver (the `agijobs[postgresql]` extra) is not installed."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import BadInput


def _fabric_name(value: str, url: str) -> str:
    # 200: room for an archived run's name, NAME@RUN_ID, with a 100-character NAME.
    if not value or len(value) > 200 or not all(c.isalnum() or c in "-_.@" for c in value):
        raise BadInput(
            f"--storage: fabric name {value!r} in {url}",
            "use letters, digits, '-', '_', '.' or '@' (at most 200), e.g. ?fabric=planetary",
        )
    return value


def parse_url(url: str) -> tuple[str, str, str]:
    """(connection string without `fabric`, fabric name, printable location)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    fabrics = [value for key, value in query if key == "fabric"]
    if len(fabrics) != 1:
        raise BadInput(
            f"--storage: {redact(url)} names no fabric"
            if not fabrics
            else f"--storage: {redact(url)} names {len(fabrics)} fabrics",
            "add exactly one ?fabric=NAME (several fabrics can share a database)",
        )
    fabric = _fabric_name(fabrics[0], redact(url))
    rest = urlencode([(key, value) for key, value in query if key != "fabric"])
    conninfo = urlunsplit(parts._replace(query=rest))
    return conninfo, fabric, redact(url)


def redact(url: str) -> str:
    """The URL without its password (in the authority or as ?password=): locations appear
    in messages and reports."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "password" for key, _ in query):
        hidden = [(key, "***" if key == "password" else value) for key, value in query]
        return urlunsplit(parts._replace(netloc=netloc, query=urlencode(hidden, safe="*@")))
    return urlunsplit(parts._replace(netloc=netloc))


def with_fabric(url: str, fabric: str) -> str:
    """`url` naming `fabric` (in place of the one it names, if any)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "fabric"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("fabric", fabric)], safe="*@")))


def database_location(url: str) -> str:
    """The database `url` names, printable: without its password and without ?fabric=."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "fabric"]
    return redact(urlunsplit(parts._replace(query=urlencode(query, safe="*@"))))
