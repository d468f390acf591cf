"""What can be waited for, parsed from text, and one readiness check of each.

A target is checked many times; check() returns when it is ready and raises
NotReady (or OSError) with the reason when it is not. Parsing happens once, at
start, so a typo is a usage error before anything runs, not a timeout later.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # as typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    import http.client
    from typing import FrozenSet, List, Optional

SCHEMES = ("tcp", "http", "https", "unix", "file", "sidecar", "exec")


class NotReady(Exception):
    """The target answered, but not with ready."""


class Target:
    """One thing to wait for; `text` is how the user wrote it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def check(self, timeout: float) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text!r})"


class Tcp(Target):
    def __init__(self, text: str, host: str, port: int) -> None:
        super().__init__(text)
        self.host, self.port = host, port

    def check(self, timeout: float) -> None:
        import socket  # here: importing it costs start-up time for everyone

        socket.create_connection((self.host, self.port), timeout=timeout).close()


class Unix(Target):
    def __init__(self, text: str, path: str) -> None:
        super().__init__(text)
        self.path = path

    def check(self, timeout: float) -> None:
        import socket

        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(self.path)


class File(Target):
    def __init__(self, text: str, path: str, nonempty: bool) -> None:
        super().__init__(text)
        self.path, self.nonempty = path, nonempty

    def check(self, timeout: float) -> None:
        size = os.stat(self.path).st_size
        if self.nonempty and size == 0:
            raise NotReady("file is empty")


class Http(Target):
    def __init__(self, text: str, secure: bool, host: str, port: int, path: str,
                 statuses: FrozenSet[int], insecure: bool) -> None:
        super().__init__(text)
        self.secure, self.host, self.port, self.path = secure, host, port, path
        self.statuses, self.insecure = statuses, insecure

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        """A connection to this URL's server; certificates unchecked only if asked."""
        import http.client

        if not self.secure:
            return http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        import ssl

        context = ssl.create_default_context()
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=context)

    def check(self, timeout: float) -> None:
        connection = self.connection(timeout)
        try:
            connection.request("GET", self.path, headers={"User-Agent": "podinit"})
            status = connection.getresponse().status
        finally:
            connection.close()
        if status not in self.statuses:
            raise NotReady(f"HTTP status {status}")


class Sidecar(Target):
    def __init__(self, text: str, name: str) -> None:
        super().__init__(text)
        self.name = name
        self.shared_dir: Optional[str] = None  # set from the configuration

    def check(self, timeout: float) -> None:
        from podinit import handshake

        if self.shared_dir is None:
            raise NotReady("no shared directory is configured")
        state = handshake.peer_state(self.shared_dir, self.name)
        if state != "ready":
            raise NotReady(f"sidecar {self.name} is {state}")


class Exec(Target):
    def __init__(self, text: str, argv: List[str]) -> None:
        super().__init__(text)
        self.argv = argv

    def check(self, timeout: float) -> None:
        from podinit import spawn

        code, output = spawn.run_check(self.argv, timeout)
        if code != 0:
            last = output.strip().splitlines()[-1:] if output.strip() else []
            raise NotReady(f"exit code {code}" + (f": {last[0][:200]}" if last else ""))


def split(text: str) -> List[str]:
    """Split a comma-separated list where a comma starts a new `scheme:` target.

    A comma inside a URL's query or an exec command stays where it is. A
    newline always separates (a repeated flag's values are joined by one).
    """
    items: List[str] = []
    for line in text.split("\n"):
        glued = False
        for piece in line.split(","):
            head = piece.strip().split(":", 1)[0].lower()
            if glued and piece.strip() and not (head in SCHEMES and ":" in piece):
                items[-1] += "," + piece
            else:
                items.append(piece)
            glued = True
    return [item.strip() for item in items]


def parse(text: str) -> Target:
    """Parse one target; raises ValueError naming what is wrong with it."""
    text = text.strip()
    if not text:
        raise ValueError("empty target")
    scheme, sep, rest = text.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        raise ValueError(f"{text!r}: unknown scheme; use one of " + ", ".join(s + ":" for s in SCHEMES))
    if scheme in ("sidecar", "exec"):
        from podinit import values

        try:
            if scheme == "sidecar":
                return Sidecar(text, values.name(rest))
            return Exec(text, values.command(rest))
        except ValueError as error:
            what = "a sidecar name " if scheme == "sidecar" else ""
            raise ValueError(f"{text!r}: {what}{error}") from None
    return _parse_url(text, scheme)


def _parse_url(text: str, scheme: str) -> Target:
    from urllib.parse import parse_qsl, urlencode, urlsplit

    url = urlsplit(text)
    if scheme in ("unix", "file"):
        path = url.path
        if url.netloc or not path.startswith("/"):
            raise ValueError(f"{text!r}: needs an absolute path, e.g. {scheme}:///run/app.sock")
        if scheme == "unix":
            return Unix(text, path)
        query = dict(parse_qsl(url.query))
        unknown = set(query) - {"nonempty"}
        if unknown:
            raise ValueError(f"{text!r}: unknown parameter {sorted(unknown)[0]!r}")
        return File(text, path, _flag(query.get("nonempty", "0"), text))
    try:
        port = url.port
    except ValueError:
        raise ValueError(f"{text!r}: port out of range 1..65535") from None
    if not url.hostname:
        raise ValueError(f"{text!r}: missing host")
    if port == 0:
        raise ValueError(f"{text!r}: port out of range 1..65535")
    if scheme == "tcp":
        if port is None:
            raise ValueError(f"{text!r}: missing port, e.g. tcp://127.0.0.1:5432")
        if url.path not in ("", "/") or url.query:
            raise ValueError(f"{text!r}: a tcp target is only tcp://HOST:PORT")
        return Tcp(text, url.hostname, port)
    secure = scheme == "https"
    kept, statuses, insecure = [], frozenset(range(200, 300)), False
    for key, value in parse_qsl(url.query, keep_blank_values=True):
        if key == "status":
            statuses = _statuses(value, text)
        elif key == "insecure":
            if not secure:
                raise ValueError(f"{text!r}: insecure is for https only")
            insecure = _flag(value, text)
        else:
            kept.append((key, value))
    path = (url.path or "/") + ("?" + urlencode(kept) if kept else "")
    return Http(text, secure, url.hostname, port or (443 if secure else 80), path, statuses, insecure)


def _statuses(value: str, text: str) -> FrozenSet[int]:
    """Accepted statuses: "200", "200,204", "2xx" or a mix."""
    accepted = set()
    for word in value.replace("|", ",").split(","):
        word = word.strip().lower()
        if len(word) == 3 and word[0] in "12345" and word[1:] == "xx":
            base = int(word[0]) * 100
            accepted.update(range(base, base + 100))
        elif word.isdigit() and 100 <= int(word) <= 599:
            accepted.add(int(word))
        else:
            raise ValueError(f"{text!r}: status {word!r} is not an HTTP status like 200 or 2xx")
    return frozenset(accepted)


def _flag(value: str, text: str) -> bool:
    from podinit import values

    try:
        return values.boolean(value or "1")
    except ValueError as error:
        raise ValueError(f"{text!r}: {error}") from None


def parse_urls(text: str) -> List[Http]:
    """The value of PODINIT_QUIT_URLS: http(s) URLs separated by commas."""
    urls = []
    for item in split(text):
        target = parse(item)
        if not isinstance(target, Http):
            raise ValueError(f"{item!r}: a quit URL is http:// or https://")
        urls.append(target)
    return urls


def parse_list(text: str) -> List[Target]:
    """The value of --wait / PODINIT_WAIT: targets separated by commas."""
    targets = [parse(item) for item in split(text)]
    if not targets:
        raise ValueError("empty target")
    return targets
