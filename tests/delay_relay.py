"""A TCP relay that adds a fixed one-way delay in each direction: the partition tests'
stand-in for ``tc netem`` on kernels built without ``sch_netem`` (the machines here answer
``Specified qdisc kind is unknown``). Every chunk is forwarded ``delay`` seconds after it
arrived, in order, so a connection through it has its round trip raised by 2 × delay,
just as netem on both ends of a link would.

    python tests/delay_relay.py LISTEN_HOST:PORT TARGET_HOST:PORT DELAY_MS
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def forward() -> None:
        while True:
            due, chunk = await queue.get()
            if not chunk:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(chunk)
            await writer.drain()
        writer.close()

    task = asyncio.create_task(forward())
    try:
        while chunk := await reader.read(1 << 16):
            await queue.put((time.monotonic() + delay, chunk))
    except ConnectionError:
        pass
    await queue.put((time.monotonic() + delay, b""))
    with contextlib.suppress(ConnectionError):
        await task


async def main() -> None:
    listen, target, delay_ms = sys.argv[1], sys.argv[2], float(sys.argv[3])
    lhost, lport = listen.rsplit(":", 1)
    thost, tport = target.rsplit(":", 1)
    delay = delay_ms / 1000

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(thost, int(tport))
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            _pump(reader, up_writer, delay), _pump(up_reader, writer, delay), return_exceptions=True
        )

    server = await asyncio.start_server(client, lhost, int(lport))
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
