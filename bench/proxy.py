"""A loopback TCP proxy that adds a fixed delay to everything the server sends back.

Every chunk read from the upstream server is handed to the client ``delay``
seconds after it arrived, in order, so each HTTP response (and each interim
``100 Continue``) reaches the client ``delay`` later than without the proxy:
about the round trip from Colombia to ``us-east-1`` for the default 60 ms.
Requests pass through at once. Runs as its own process (its own GIL) so the
measured client does not slow it down::

    python -m bench.proxy --upstream-port 5000 --delay 0.06

prints ``PORT <n>`` once it listens on 127.0.0.1:<n>.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

_CHUNK = 256 * 1024


async def _forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            writer.write_eof()


async def _forward_delayed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                           delay: float) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def receive() -> None:
        try:
            while data := await reader.read(_CHUNK):
                queue.put_nowait((loop.time() + delay, data))
        except (ConnectionError, OSError):
            pass
        queue.put_nowait((loop.time() + delay, b""))

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                break
            try:
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError):
                break
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()

    await asyncio.gather(receive(), deliver())


async def _serve(upstream_port: int, delay: float) -> None:
    running: set[asyncio.Task] = set()  # strong references: asyncio keeps only weak ones

    async def handle(client_reader: asyncio.StreamReader,
                     client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            running.add(task)
            task.add_done_callback(running.discard)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
        except OSError:
            client_writer.close()
            return
        try:
            await asyncio.gather(_forward(client_reader, up_writer),
                                 _forward_delayed(up_reader, client_writer, delay))
        finally:
            for writer in (up_writer, client_writer):
                with contextlib.suppress(OSError, RuntimeError):
                    writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.06, help="seconds added per response")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.upstream_port, args.delay))
    return 0


if __name__ == "__main__":
    sys.exit(main())
