"""A hostile stand-in for a MySQL server: its greeting leaves TLS out and it asks for the password in clear text.

That is what a man in the middle can do to a client that only uses TLS when the greeting offers it. The server records
every byte it receives, so a test can show that no login, and no password, ever reached it. FakeMySQLServer, the
loopback listener behind it, serves other stand-ins too (tests/iam_login_server.py).
"""

import socket
import struct
import threading
from collections.abc import Callable
from typing import TypeVar

CLEAR_TEXT_METHOD = b"mysql_clear_password"
NATIVE_METHOD = b"mysql_native_password"
# Protocol 4.1 with plugin authentication, as MySQL 8 announces itself, minus CLIENT_SSL (0x800).
CAPABILITIES = 0x1 | 0x4 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x20000 | 0x80000 | 0x200000
ACCESS_DENIED = struct.pack("<BH", 0xFF, 1045) + b"#28000Access denied"
READ_TIMEOUT = 5
# A conversation is at most three reads.
CONVERSATION_LIMIT = 3 * READ_TIMEOUT + 1

T = TypeVar("T")


def packet(sequence: int, payload: bytes) -> bytes:
    """One MySQL protocol packet: 3-byte length, sequence number, payload."""
    return struct.pack("<I", len(payload))[:3] + bytes([sequence]) + payload


def greeting(method: bytes, capabilities: int = CAPABILITIES) -> bytes:
    """A protocol-10 handshake offering the given login method, without TLS unless capabilities has CLIENT_SSL."""
    salt = b"12345678abcdefghijkl"
    return (
        b"\x0a8.0.36-impostor\x00"
        + struct.pack("<I", 7)
        + salt[:8]
        + b"\x00"
        + struct.pack("<HBHHB", capabilities & 0xFFFF, 45, 2, capabilities >> 16, len(salt) + 1)
        + bytes(10)
        + salt[8:]
        + b"\x00"
        + method
        + b"\x00"
    )


class FakeMySQLServer:
    """A loopback listener that holds one conversation at a time (a subclass's _talk) and records what clients send
    in clear (received) and how many it greeted."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._greeted = 0
        self._received = bytearray()
        # Held while a conversation is under way: readers wait for it, so what a test asserts is never half-recorded.
        self._talking = threading.Condition()
        self._in_conversation = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def when_quiet(self, read: Callable[[], T]) -> T:
        """What read() returns once the conversation in progress has ended."""
        with self._talking:
            self._talking.wait_for(lambda: not self._in_conversation, timeout=CONVERSATION_LIMIT)
            return read()

    @property
    def greeted(self) -> int:
        """How many connections got a greeting, once the conversation in progress has ended."""
        return self.when_quiet(lambda: self._greeted)

    @property
    def received(self) -> bytes:
        """Every byte any client sent in clear, once the conversation in progress has ended."""
        return self.when_quiet(lambda: bytes(self._received))

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client = self._listener.accept()[0]
            except TimeoutError:
                continue
            with self._talking:
                self._in_conversation = True
            try:
                with client:
                    self._talk(client)
            finally:
                with self._talking:
                    self._in_conversation = False
                    self._talking.notify_all()

    def _talk(self, client: socket.socket) -> None:
        raise NotImplementedError

    def _read(self, client: socket.socket) -> bytes:
        """One read from the client, recorded; empty when it closed the connection."""
        data = client.recv(65536)
        self._received.extend(data)
        return data

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._listener.close()


class DowngradingServer(FakeMySQLServer):
    """Greets each client without TLS, offering the clear-text method in its greeting (clear_text_in_greeting) or
    switching to it once the login packet arrives, then denies access. received holds what clients sent."""

    def __init__(self, clear_text_in_greeting: bool = False) -> None:
        self._method = CLEAR_TEXT_METHOD if clear_text_in_greeting else NATIVE_METHOD
        super().__init__()

    def _talk(self, client: socket.socket) -> None:
        client.settimeout(READ_TIMEOUT)
        # Counted before it is sent: a client may act on the greeting before this thread runs again.
        self._greeted += 1
        try:
            client.sendall(packet(0, greeting(self._method)))
            if not self._read(client):  # the client hung up instead of logging in
                return
            if self._method == NATIVE_METHOD:
                client.sendall(packet(2, b"\xfe" + CLEAR_TEXT_METHOD + b"\x00"))
                if not self._read(client):
                    return
                client.sendall(packet(4, ACCESS_DENIED))
            else:
                client.sendall(packet(2, ACCESS_DENIED))
        except OSError:  # the client reset or timed out: what it sent is recorded already
            return
