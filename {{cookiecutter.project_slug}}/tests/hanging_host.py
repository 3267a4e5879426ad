"""Stand-ins for a database host that accepts connections and then never answers: one that always hangs, and one that
hangs for a while and then serves, as an Aurora Serverless v2 cluster resuming from a pause may look to a client."""

import socket
import threading
import time

# Seconds each relaying thread waits for data before it checks whether to stop or to stall.
POLL = 0.05


class HangingHost:
    """A TCP port that accepts connections and never answers, like a database host that hangs."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(POLL)
        self.port: int = self._listener.getsockname()[1]
        self._accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def held(self) -> int:
        """How many connections it accepted and left unanswered so far."""
        return len(self._accepted)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                self._take(self._listener.accept()[0])
            except TimeoutError:
                continue

    def _take(self, connection: socket.socket) -> None:
        self._accepted.append(connection)

    def clients_hung_up(self, within: float) -> bool:
        """True when some client connected and every client has since closed its end. Blocks: call it in a thread."""
        deadline = time.monotonic() + within
        while not self._accepted and time.monotonic() < deadline:
            time.sleep(0.01)
        for connection in list(self._accepted):
            connection.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                if connection.recv(1) != b"":
                    return False
            except ConnectionResetError:
                continue
            except TimeoutError:
                return False
        return bool(self._accepted)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for connection in self._accepted:
            connection.close()
        self._listener.close()


class ResumingHost(HangingHost):
    """A host that leaves its first `hold` connections unanswered, then relays each later one to the real server at
    `target`, as a paused cluster does once it has resumed. stall() makes it answer nothing from then on, on the
    relayed connections too: a host gone without closing its connections."""

    def __init__(self, target: tuple[str, int], hold: int) -> None:
        self._target = target
        self._hold = hold
        self._stalled = threading.Event()
        # Relays that have seen the stall, so stall() returns only once nothing more gets through.
        self._relays_stalled = threading.Semaphore(0)
        self._relays: list[threading.Thread] = []
        self._relayed: list[socket.socket] = []
        super().__init__()

    def stall(self) -> None:
        """From now on answer nothing; returns once every relay has stopped passing data on."""
        self._stalled.set()
        for relay in self._relays:
            while relay.is_alive() and not self._relays_stalled.acquire(timeout=POLL):
                continue

    def _take(self, connection: socket.socket) -> None:
        if self.held < self._hold or self._stalled.is_set():
            super()._take(connection)
            return
        server = socket.create_connection(self._target)
        self._relayed += [connection, server]
        for source, destination in ((connection, server), (server, connection)):
            relay = threading.Thread(target=self._relay, args=(source, destination), daemon=True)
            self._relays.append(relay)
            relay.start()

    def _relay(self, source: socket.socket, destination: socket.socket) -> None:
        source.settimeout(POLL)
        while not self._stop.is_set():
            if self._stalled.is_set():
                # What either side sends stays unread: the other side waits for an answer that never comes.
                self._relays_stalled.release()
                self._stop.wait()
                return
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            if not data:
                destination.close()
                return
            try:
                destination.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        super().close()
        for relay in self._relays:
            relay.join()
        for connection in self._relayed:
            connection.close()
