"""An HTTP/2 WebSocket client (RFC 8441) built from Python's h2 and wsproto, for
test/integration/python-h2.test.ts.

Usage: /usr/bin/python3 python_h2_client.py HOST PORT

Opens one TLS connection with ALPN h2 to an undercurrent echo server and, on that one HTTP/2
session: a plain GET, then two WebSockets at once as extended-CONNECT streams (the first offers
permessage-deflate), text, binary, 1 MiB and fragmented messages, a ping, and the closing
handshake both ways. Prints one JSON object with what it saw. Uses Debian's python3-h2 (4.x) and
python3-wsproto (1.x), which are independent of undercurrent and of Node: h2 frames HTTP/2,
wsproto frames WebSocket messages (without its own HTTP/1.1 handshake).
"""

import json
import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events
from h2.settings import SettingCodes
from wsproto.connection import Connection, ConnectionType
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    TextMessage,
)
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import CloseReason


class Client:
    def __init__(self, host: str, port: int) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(["h2"])
        raw = socket.create_connection((host, port), timeout=20)
        self.sock = context.wrap_socket(raw, server_hostname=host)
        self.alpn = self.sock.selected_alpn_protocol()
        self.authority = f"{host}:{port}"
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        self.h2.initiate_connection()
        self.flush()
        self.remote_settings: dict = {}
        self.responses: dict = {}  # stream id -> response headers
        self.bodies: dict = {}  # stream id -> bytes of a plain request
        self.ended: set = set()  # streams the server ended (END_STREAM)
        self.reset: dict = {}  # streams the server reset -> error code
        self.ws: dict = {}  # stream id -> wsproto Connection
        self.inbox: dict = {}  # stream id -> wsproto events not yet taken

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self) -> None:
        """Reads once from the socket and handles every HTTP/2 event it carried."""
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the TCP connection")
        for event in self.h2.receive_data(data):
            if isinstance(event, h2.events.RemoteSettingsChanged):
                for code, change in event.changed_settings.items():
                    self.remote_settings[int(code)] = change.new_value
            elif isinstance(event, h2.events.ResponseReceived):
                self.responses[event.stream_id] = dict(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                if event.stream_id in self.ws:
                    conn = self.ws[event.stream_id]
                    conn.receive_data(event.data)
                    self.inbox[event.stream_id].extend(conn.events())
                else:
                    self.bodies[event.stream_id] = self.bodies.get(event.stream_id, b"") + event.data
            elif isinstance(event, h2.events.StreamEnded):
                self.ended.add(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                self.reset[event.stream_id] = int(event.error_code)
        self.flush()

    def until(self, done) -> None:
        while not done():
            self.pump()

    def send_data(self, stream_id: int, data: bytes, end: bool = False) -> None:
        """Sends `data` on a stream within HTTP/2 flow control, waiting for window updates."""
        view = memoryview(data)
        while len(view) > 0:
            window = min(self.h2.local_flow_control_window(stream_id), self.h2.max_outbound_frame_size)
            if window <= 0:
                self.pump()
                continue
            chunk, view = view[:window], view[window:]
            self.h2.send_data(stream_id, bytes(chunk))
            self.flush()
        if end:
            self.h2.end_stream(stream_id)
            self.flush()

    def get(self, path: str) -> tuple:
        stream_id = self.h2.get_next_available_stream_id()
        self.h2.send_headers(
            stream_id,
            [(":method", "GET"), (":scheme", "https"), (":authority", self.authority), (":path", path)],
            end_stream=True,
        )
        self.flush()
        self.until(lambda: stream_id in self.ended)
        return self.responses[stream_id].get(":status"), self.bodies.get(stream_id, b"").decode()

    def websocket(self, path: str, deflate: bool) -> int:
        """Opens a WebSocket as an extended CONNECT (RFC 8441 §4); returns its stream id."""
        stream_id = self.h2.get_next_available_stream_id()
        headers = [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", "https"),
            (":authority", self.authority),
            (":path", path),
            ("sec-websocket-version", "13"),
        ]
        extension = PerMessageDeflate()
        if deflate:
            headers.append(("sec-websocket-extensions", f"{extension.name}; {extension.offer()}"))
        self.h2.send_headers(stream_id, headers)
        self.flush()
        self.until(lambda: stream_id in self.responses or stream_id in self.reset)
        response = self.responses.get(stream_id, {})
        agreed = response.get("sec-websocket-extensions")
        extensions = []
        if agreed is not None:
            extension.finalize(agreed.split(";", 1)[1] if ";" in agreed else "")
            extensions = [extension]
        self.ws[stream_id] = Connection(ConnectionType.CLIENT, extensions=extensions)
        self.inbox[stream_id] = []
        return stream_id

    def send(self, stream_id: int, event) -> None:
        self.send_data(stream_id, self.ws[stream_id].send(event))

    def receive(self, stream_id: int):
        """The next WebSocket event on a stream (pings are answered by the caller)."""
        self.until(lambda: len(self.inbox[stream_id]) > 0)
        return self.inbox[stream_id].pop(0)

    def message(self, stream_id: int):
        """The next whole message on a stream, joining fragments."""
        parts = []
        while True:
            event = self.receive(stream_id)
            if isinstance(event, Ping):
                self.send(stream_id, event.response())
                continue
            if not isinstance(event, (TextMessage, BytesMessage)):
                raise AssertionError(f"expected a message, got {event!r}")
            parts.append(event.data)
            if event.message_finished:
                return "".join(parts) if isinstance(event, TextMessage) else b"".join(parts)


def main(host: str, port: int) -> dict:
    client = Client(host, port)
    out: dict = {"alpn": client.alpn}
    client.until(lambda: SettingCodes.ENABLE_CONNECT_PROTOCOL in client.remote_settings)
    out["enable_connect_protocol"] = client.remote_settings[SettingCodes.ENABLE_CONNECT_PROTOCOL]

    out["plain"] = list(client.get("/plain"))

    first = client.websocket("/echo?id=h2-normal", deflate=True)
    second = client.websocket("/echo?id=h2-app", deflate=False)
    response = client.responses[first]
    out["status"] = response.get(":status")
    out["accept_header"] = "sec-websocket-accept" in response
    out["extensions"] = response.get("sec-websocket-extensions")
    out["second_status"] = client.responses[second].get(":status")

    client.send(first, TextMessage("héllo, wörld ✓ \U0001F30A"))
    client.send(second, TextMessage("on the same session"))
    out["text"] = client.message(first)
    out["second_text"] = client.message(second)

    client.send(first, BytesMessage(bytes([0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF])))
    out["binary"] = client.message(first).hex()

    big = bytes((i * 31 + 7) & 0xFF for i in range(1024 * 1024))
    client.send(first, BytesMessage(big))
    echo = client.message(first)
    out["large_binary"] = {"length": len(echo), "equal": echo == big}

    client.send(first, TextMessage("frag", message_finished=False))
    client.send(first, TextMessage("men", message_finished=False))
    client.send(first, TextMessage("ted", message_finished=True))
    out["fragmented"] = client.message(first)

    client.send(first, Ping(b"python-h2"))
    event = client.receive(first)
    out["pong"] = isinstance(event, Pong) and bytes(event.payload) == b"python-h2"

    # The second WebSocket closes with an application code; the first goes on meanwhile.
    client.send(second, CloseConnection(code=4001, reason="app says bye"))
    reply = client.receive(second)
    out["second_close"] = {"code": reply.code, "reason": reply.reason}
    client.until(lambda: second in client.ended or second in client.reset)
    out["second_ended_by_server"] = second in client.ended
    client.send_data(second, b"", end=True)

    client.send(first, TextMessage("still here"))
    out["after_second_closed"] = client.message(first)

    # The first closes normally: the server answers, then ends its side of the stream.
    client.send(first, CloseConnection(code=CloseReason.NORMAL_CLOSURE))
    reply = client.receive(first)
    out["close"] = {"code": reply.code, "reason": reply.reason}
    client.until(lambda: first in client.ended or first in client.reset)
    out["ended_by_server"] = first in client.ended
    client.send_data(first, b"", end=True)

    out["plain_after"] = list(client.get("/plain"))
    client.h2.close_connection()
    client.flush()
    client.sock.close()
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
