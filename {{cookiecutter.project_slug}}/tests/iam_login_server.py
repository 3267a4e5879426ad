"""A stand-in for Aurora MySQL with an IAM database user, on loopback with a throwaway CA's certificate.

It greets with TLS offered and the server's default method (mysql_native_password), starts TLS when the client asks,
reads the login packet inside TLS and, as Aurora does for a user IDENTIFIED WITH AWSAuthenticationPlugin, asks the
client to switch to mysql_clear_password; it records the user name and the password then received (the token), and
denies access. What clients sent before TLS is in received, as for any FakeMySQLServer.
"""

import socket
import ssl
from dataclasses import dataclass

from tests.downgrading_server import (
    ACCESS_DENIED,
    CAPABILITIES,
    CLEAR_TEXT_METHOD,
    NATIVE_METHOD,
    READ_TIMEOUT,
    FakeMySQLServer,
    greeting,
    packet,
)

CLIENT_SSL = 0x800
# Capability flags, max packet size, character set and 23 reserved bytes start a login packet (and a TLS request).
LOGIN_HEADER_LENGTH = 32


@dataclass(frozen=True)
class ReceivedLogin:
    """A login the server received inside TLS: the user name of the login packet, and the answer to the switch to
    the clear-text method (None when the client gave none)."""

    user: str
    clear_text_password: str | None


class IamLoginServer(FakeMySQLServer):
    """Serves TLS with certificate_context (a server context holding a certificate for 127.0.0.1) and asks every
    login for the clear-text method, as Aurora asks an IAM user's; logins holds what it received."""

    def __init__(self, certificate_context: ssl.SSLContext) -> None:
        self._context = certificate_context
        self._logins: list[ReceivedLogin] = []
        super().__init__()

    @property
    def logins(self) -> list[ReceivedLogin]:
        """The logins received inside TLS, once the conversation in progress has ended."""
        return self.when_quiet(lambda: list(self._logins))

    def _talk(self, client: socket.socket) -> None:
        client.settimeout(READ_TIMEOUT)
        self._greeted += 1
        try:
            client.sendall(packet(0, greeting(NATIVE_METHOD, CAPABILITIES | CLIENT_SSL)))
            tls_request = self._read_packet(client, record=True)
            if len(tls_request) != LOGIN_HEADER_LENGTH or not int.from_bytes(tls_request[:4], "little") & CLIENT_SSL:
                return  # a login in clear: recorded in received, and refused by hanging up
            with self._context.wrap_socket(client, server_side=True) as secure:
                login = self._read_packet(secure)
                user = login[LOGIN_HEADER_LENGTH:].split(b"\x00", 1)[0].decode()
                secure.sendall(packet(3, b"\xfe" + CLEAR_TEXT_METHOD + b"\x00"))
                answer = self._read_packet(secure)
                password = answer[:-1].decode() if answer.endswith(b"\x00") else None
                self._logins.append(ReceivedLogin(user, password))
                secure.sendall(packet(5, ACCESS_DENIED))
        except (OSError, ValueError):  # the client hung up, timed out or failed TLS: what it sent is recorded
            return

    def _read_packet(self, client: socket.socket, record: bool = False) -> bytes:
        """One packet's payload (empty when the client closed the connection); bytes read in clear are recorded."""
        header = self._read_exactly(client, 4, record)
        if len(header) < 4:
            return b""
        return self._read_exactly(client, int.from_bytes(header[:3], "little"), record)

    def _read_exactly(self, client: socket.socket, size: int, record: bool) -> bytes:
        data = bytearray()
        while len(data) < size:
            chunk = client.recv(size - len(data))
            if not chunk:
                break
            data.extend(chunk)
        if record:
            self._received.extend(data)
        return bytes(data)
