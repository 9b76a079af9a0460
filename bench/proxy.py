"""A loopback TCP proxy that adds a fixed delay to everything the server sends back.

Every chunk read from the upstream server is handed to the client ``delay``
seconds after it arrived, in order, so each HTTP response (and each interim
``100 Continue``) reaches the client ``delay`` later than without the proxy:
about the round trip from Colombia to ``us-east-1`` for the default 60 ms.
Requests pass through at once. Runs as its own process (its own GIL) so the
measured client does not slow it down::

    python -m bench.proxy --upstream-port 5000 --delay 0.06

prints ``PORT <n>`` once it listens on 127.0.0.1:<n>.

``--sink`` answers by itself instead, ``delay`` after each request has arrived: any
PUT is stored nowhere and answered 200 (``100 Continue`` too when asked), a listing is
empty, a HEAD is 404. It stands in for real S3, whose own work is not done on this
machine: with it only the client's cost and the round trips bound the throughput
(the concurrency sweep of ``bench/concurrency.py``).
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


_EMPTY_LISTING = (b'<?xml version="1.0" encoding="UTF-8"?>'
                  b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                  b"<Name>sink</Name><Prefix></Prefix><KeyCount>0</KeyCount>"
                  b"<MaxKeys>1</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>")


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> None:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers (aws-chunked checksums)
                return
            await reader.readexactly(size + 2)
    length = int(headers.get("content-length", "0") or 0)
    while length > 0:
        chunk = await reader.read(min(length, _CHUNK))
        if not chunk:
            raise ConnectionError("client went away")
        length -= len(chunk)


async def _sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                delay: float) -> None:
    try:
        while True:
            request = await reader.readuntil(b"\r\n\r\n")
            lines = request.decode("latin-1").split("\r\n")
            method = lines[0].split(" ", 1)[0]
            headers = {k.strip().lower(): v.strip()
                       for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            if headers.get("expect", "").lower() == "100-continue":
                await asyncio.sleep(delay)
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                await writer.drain()
            await _read_body(reader, headers)
            await asyncio.sleep(delay)
            if method == "HEAD":
                head, body = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n", b""
            elif method == "GET":
                head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n"
                        b"Content-Length: " + str(len(_EMPTY_LISTING)).encode() + b"\r\n")
                body = _EMPTY_LISTING
            else:
                head = (b'HTTP/1.1 200 OK\r\nETag: "d41d8cd98f00b204e9800998ecf8427e"\r\n'
                        b"Content-Length: 0\r\n")
                body = b""
            writer.write(head + b"x-amz-request-id: sink\r\n\r\n" + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, OSError, ValueError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()


async def _serve_sink(delay: float) -> None:
    running: set[asyncio.Task] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            running.add(task)
            task.add_done_callback(running.discard)
        await _sink(reader, writer, delay)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream-port", type=int)
    parser.add_argument("--delay", type=float, default=0.06, help="seconds added per response")
    parser.add_argument("--sink", action="store_true",
                        help="answer S3 requests itself (no upstream): a stand-in for real S3")
    args = parser.parse_args(argv)
    if not args.sink and args.upstream_port is None:
        parser.error("--upstream-port is required unless --sink")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_sink(args.delay) if args.sink
                    else _serve(args.upstream_port, args.delay))
    return 0


if __name__ == "__main__":
    sys.exit(main())
