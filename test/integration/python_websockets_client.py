"""Python `websockets` client for test/integration/python-websockets.test.ts.

Usage: /usr/bin/python3 python_websockets_client.py ws://127.0.0.1:PORT

Talks to an echo server and prints one JSON object with what it saw. Uses the Debian
package python3-websockets (10.x, asyncio API).
"""

import asyncio
import json
import sys

import websockets


async def main(url: str) -> dict:
    out: dict = {"version": websockets.__version__}

    # One connection: text, binary, large messages, a ping, a fragmented message; closes with 1000.
    async with websockets.connect(f"{url}/?id=normal", max_size=None) as ws:
        await ws.send("héllo, wörld ✓ \U0001F30A")
        out["text"] = await ws.recv()

        await ws.send(bytes([0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF]))
        echo = await ws.recv()
        out["binary"] = echo.hex() if isinstance(echo, bytes) else f"not bytes: {echo!r}"

        big = bytes((i * 31 + 7) & 0xFF for i in range(1024 * 1024))
        await ws.send(big)
        echo = await ws.recv()
        out["large_binary"] = {"type": type(echo).__name__, "length": len(echo), "equal": echo == big}

        big_text = "ü€" * (1024 * 1024 // 5)  # 2 + 3 bytes each: about 1 MiB of UTF-8
        await ws.send(big_text)
        echo = await ws.recv()
        out["large_text"] = {"type": type(echo).__name__, "length": len(echo), "equal": echo == big_text}

        await ws.send(["frag", "men", "ted"])  # one message in three frames
        out["fragmented"] = await ws.recv()

        pong = await ws.ping(b"python")
        await asyncio.wait_for(pong, 5)
        out["pong"] = True
    out["close_normal"] = {"code": ws.close_code, "reason": ws.close_reason}

    # Another connection, closed with an application code and a reason.
    ws = await websockets.connect(f"{url}/?id=app")
    await ws.send("bye soon")
    out["app_echo"] = await ws.recv()
    await ws.close(code=4001, reason="app says bye")
    out["close_app"] = {"code": ws.close_code, "reason": ws.close_reason}
    return out


if __name__ == "__main__":
    result = asyncio.run(asyncio.wait_for(main(sys.argv[1]), 30))
    print(json.dumps(result))
