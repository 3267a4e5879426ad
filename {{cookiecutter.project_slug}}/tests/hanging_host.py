"""A stand-in for a database host that accepts connections and then never answers."""

import socket
import threading
import time


class HangingHost:
    """A TCP port that accepts connections and never answers, like a database host that hangs."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                self._accepted.append(self._listener.accept()[0])
            except TimeoutError:
                continue

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
