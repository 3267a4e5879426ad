"""The database modes compared: a bake that logs in with IAM database authentication (the template's provisioned
Aurora path) against today's bake that brings its own database and reads its password from Secrets Manager.

Both are packaged with `make package` and measured cold in the same rounds: `GET /health` (what the mode adds to
starting the app) and `GET /challenges/1` from a new process, whose first connection logs in (what the mode adds to
a container's first database request).

MariaDB has no IAM authentication, so the IAM login meets a stand-in for Aurora: IamLoginRelay, a loopback relay
that speaks Aurora's side of the login (MariaDB's own greeting, TLS with a certificate from the server's test CA,
then a switch to mysql_clear_password, as Aurora asks of a user identified with AWSAuthenticationPlugin), checks that
the password it receives is a token for this user, host and port, then logs in to MariaDB over its socket with the
real password and relays the session. The Secrets Manager side goes through a relay as well (PassthroughRelay:
bytes only, TLS and login end to end with MariaDB), so both connections take the same extra hop.

What this measures: the app's side of each login, in full. For IAM: loading the token code on the first connection,
signing a token (SigV4, no network), TLS, and the extra round trip of the switch to the clear-text method. For
Secrets Manager: loading the app's client and one GetSecretValue against moto on loopback, TLS, and the login.
What it cannot measure: AWS's side. Aurora checking a token against IAM (AWS documents a limit on new IAM
connections per second, not a latency), the network time of a real GetSecretValue (one HTTPS request per container
to Secrets Manager or its VPC endpoint, which the IAM mode never makes), RDS Proxy, and a cluster resuming from 0 ACU.
"""

from __future__ import annotations

import hashlib
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.local_services import MariaDB

# The two bakes compared, as cookiecutter answers: the only place they are named.
COMPARED_ANSWERS = {
    "existing": ("db_credentials=secrets_manager", "database=existing"),
    "aurora_iam": ("db_credentials=iam", "database=aurora"),
}
# What `make package` needs beyond the default bake's inputs, per compared bake (placeholders: nothing is deployed).
PACKAGE_INPUTS: dict[str, dict[str, str]] = {
    "existing": {},
    # The database stack's exports replace every database input.
    "aurora_iam": {},
}
LABELS = {
    "existing": "existing: credentials from Secrets Manager (moto)",
    "aurora_iam": "aurora/iam: IAM token, clear-text login inside TLS (stand-in)",
}
# The limits of the proof: what the IAM mode may add to a cold GET /health and a cold read.
RATIO_LIMIT = 1.02
MILLISECONDS_LIMIT = 5.0

CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_SSL = 0x800
CLIENT_PLUGIN_AUTH = 0x80000
CLIENT_CONNECT_ATTRS = 0x100000
# Capability flags, maximum packet size, character set and 23 reserved bytes open a login packet.
LOGIN_HEADER_LENGTH = 32
CLEAR_TEXT_SWITCH = b"\xfemysql_clear_password\x00"
NATIVE_METHOD = b"mysql_native_password"
SOCKET_TIMEOUT = 30.0


@dataclass(frozen=True)
class Login:
    """The MariaDB account the relay logs in as once the app's token is accepted."""

    user: str
    password: str
    database: str


def read_packet(connection: socket.socket) -> tuple[int, bytes]:
    """One MySQL packet: its sequence number and payload."""
    header = read_exactly(connection, 4)
    return header[3], read_exactly(connection, int.from_bytes(header[:3], "little"))


def read_exactly(connection: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the peer closed the connection during the login")
        data.extend(chunk)
    return bytes(data)


def send_packet(connection: socket.socket, sequence: int, payload: bytes) -> None:
    connection.sendall(len(payload).to_bytes(3, "little") + bytes([sequence]) + payload)


def greeting_salt(greeting: bytes) -> bytes:
    """The 20-byte scramble of a protocol 10 greeting (8 bytes before the capability flags, 12 after the reserved
    ones)."""
    after_version = greeting.index(b"\x00", 1) + 1
    first = greeting[after_version + 4 : after_version + 12]
    second_start = after_version + 12 + 1 + 2 + 1 + 2 + 2 + 1 + 10
    return first + greeting[second_start : second_start + 12]


def native_scramble(password: str, salt: bytes) -> bytes:
    """mysql_native_password's answer: SHA1(password) XOR SHA1(salt + SHA1(SHA1(password)))."""
    hashed = hashlib.sha1(password.encode(), usedforsecurity=False).digest()
    double = hashlib.sha1(hashed, usedforsecurity=False).digest()
    mask = hashlib.sha1(salt + double, usedforsecurity=False).digest()
    return bytes(left ^ right for left, right in zip(hashed, mask, strict=True))


def is_token_for(token: str, user: str, port: int) -> bool:
    """Whether a password has the form of an IAM authentication token for user on 127.0.0.1:port, signed with a
    session's credentials (the relay cannot check the signature as IAM would)."""
    prefix = f"127.0.0.1:{port}/?Action=connect&DBUser={user}&"
    return token.startswith(prefix) and "X-Amz-Security-Token=" in token and "&X-Amz-Signature=" in token


def relay(first: socket.socket, second: socket.socket) -> None:
    """Copy bytes both ways until either side closes or stays silent for SOCKET_TIMEOUT."""
    peers = {first: second, second: first}
    while True:
        # Bytes TLS already decrypted wait inside the SSL object, where select cannot see them.
        readable: list[socket.socket] = [side for side in peers if isinstance(side, ssl.SSLSocket) and side.pending()]
        if not readable:
            readable = select.select(list(peers), [], [], SOCKET_TIMEOUT)[0]
        if not readable:
            return
        for side in readable:
            try:
                data = side.recv(65536)
                if data:
                    peers[side].sendall(data)
            except OSError:  # an app process ends by exiting, often without closing its connection
                return
            if not data:
                return


class Relay:
    """A loopback listener that serves each connection on its own thread; `port` is where apps connect."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.errors: list[str] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> None:
        self._accepting.start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve_and_close, args=(client,), daemon=True).start()

    def _serve_and_close(self, client: socket.socket) -> None:
        client.settimeout(SOCKET_TIMEOUT)
        try:
            with client:
                self._serve(client)
        except (OSError, ValueError, ConnectionError) as error:
            self.errors.append(f"{type(self).__name__}: {error!r}")

    def _serve(self, client: socket.socket) -> None:
        raise NotImplementedError


class PassthroughRelay(Relay):
    """Bytes to and from MariaDB's TCP port: the app's TLS and login reach MariaDB untouched."""

    def __init__(self, server: MariaDB) -> None:
        super().__init__()
        self._server = server

    def _serve(self, client: socket.socket) -> None:
        with socket.create_connection(("127.0.0.1", self._server.port), timeout=SOCKET_TIMEOUT) as upstream:
            relay(client, upstream)


class IamLoginRelay(Relay):
    """Aurora's side of an IAM login (see the module's docstring), then the session relayed to MariaDB's socket."""

    def __init__(self, server: MariaDB, login: Login) -> None:
        super().__init__()
        self._server = server
        self._login = login
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._tls.load_cert_chain(server.tls.certificate, server.tls.key)

    def _serve(self, client: socket.socket) -> None:
        with socket.socket(socket.AF_UNIX) as upstream:
            upstream.settimeout(SOCKET_TIMEOUT)
            upstream.connect(str(self._server.socket))
            _, greeting = read_packet(upstream)
            # MariaDB's own greeting (version, capabilities, scramble), offering TLS as Aurora's does.
            flags_at = greeting.index(b"\x00", 1) + 14
            flags = int.from_bytes(greeting[flags_at : flags_at + 2], "little") | CLIENT_SSL
            send_packet(client, 0, greeting[:flags_at] + flags.to_bytes(2, "little") + greeting[flags_at + 2 :])
            _, tls_request = read_packet(client)
            if len(tls_request) != LOGIN_HEADER_LENGTH or not int.from_bytes(tls_request[:4], "little") & CLIENT_SSL:
                raise ValueError("the app asked for no TLS: an IAM login never starts in clear")
            with self._tls.wrap_socket(client, server_side=True) as secure:
                _, login = read_packet(secure)
                user = login[LOGIN_HEADER_LENGTH:].split(b"\x00", 1)[0].decode()
                send_packet(secure, 3, CLEAR_TEXT_SWITCH)
                _, answer = read_packet(secure)
                if not is_token_for(answer.rstrip(b"\x00").decode(), user, self.port):
                    raise ValueError(f"the password for {user!r} is not an IAM authentication token for this server")
                send_packet(upstream, 1, self._upstream_login(login[:LOGIN_HEADER_LENGTH], greeting_salt(greeting)))
                _, outcome = read_packet(upstream)
                send_packet(secure, 5, outcome)
                if outcome[:1] != b"\x00":
                    raise ValueError(f"MariaDB refused the relay's login: {outcome!r}")
                relay(secure, upstream)

    def _upstream_login(self, header: bytes, salt: bytes) -> bytes:
        """The app's login header (capabilities, character set) with this relay's user and password, over the
        socket: no TLS and no connection attributes."""
        flags = int.from_bytes(header[:4], "little") & ~(CLIENT_SSL | CLIENT_CONNECT_ATTRS)
        packet = flags.to_bytes(4, "little") + header[4:]
        packet += self._login.user.encode() + b"\x00" + bytes([20]) + native_scramble(self._login.password, salt)
        if flags & CLIENT_CONNECT_WITH_DB:
            packet += self._login.database.encode() + b"\x00"
        if flags & CLIENT_PLUGIN_AUTH:
            packet += NATIVE_METHOD + b"\x00"
        return packet


@contextmanager
def running(relay_server: Relay) -> Iterator[Relay]:
    """The relay accepting connections until the block ends; a connection it failed to serve fails the block."""
    relay_server.start()
    try:
        yield relay_server
    finally:
        relay_server.close()
    if relay_server.errors:
        raise SystemExit("the database relay failed: " + "; ".join(relay_server.errors))
