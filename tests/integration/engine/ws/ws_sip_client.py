#!/usr/bin/python3
"""A scripted SIP-over-WebSocket (RFC 7118) browser-like client for the engine's ws/wss tests.

Runs with Debian's python3-websockets (10.x, asyncio API). Modes:
  call     INVITE with SDP -> 200 with SDP -> ACK -> BYE -> 200.
  disturb  call A is set up; meanwhile: binary garbage, a text frame that is not SIP, an
           oversized message, an INVITE whose connection is closed abruptly, an upgrade without
           the sip subprotocol and a plain HTTP request; then call A ends with BYE and a new
           call B goes through on a new connection.
Prints one line per step; exit code 0 when everything went as expected.
"""

import argparse
import asyncio
import random
import ssl
import string
import sys

import websockets

TIMEOUT = 20.0


def token(n=10):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def log(*args):
    print(*args, flush=True)


def parse(text):
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    start = lines[0]
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    return start, headers, body


def header(headers, name, compact=None):
    for n, v in headers:
        if n == name or (compact and n == compact):
            return v
    return None


def all_headers(headers, name, compact=None):
    return [v for n, v in headers if n == name or (compact and n == compact)]


def status_of(start):
    if not start.startswith("SIP/2.0 "):
        return None
    return int(start.split(" ")[1])


class Call:
    """One UAC call over one WebSocket connection."""

    def __init__(self, ws, scheme, target, host):
        self.ws = ws
        self.scheme = scheme  # "WS" or "WSS"
        self.target = target  # Request-URI
        self.host = token(8) + ".invalid"  # browsers' Via/Contact host
        self.call_id = token(16)
        self.from_tag = token(8)
        self.to_tag = None
        self.cseq = 1
        self.remote_target = target
        self.route = []
        self.inbox = asyncio.Queue()
        self.reader = None

    def start_reader(self):
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self):
        try:
            async for message in self.ws:
                if isinstance(message, bytes):
                    message = message.decode()
                start, headers, _ = parse(message)
                if status_of(start) is None:
                    # A request from the engine (BYE, OPTIONS): answer 200.
                    await self.ws.send(self.response_to(message, 200, "OK"))
                    await self.inbox.put(("request", message))
                else:
                    await self.inbox.put(("response", message))
        except websockets.ConnectionClosed:
            pass
        await self.inbox.put(("closed", None))

    def response_to(self, request, status, reason):
        _, headers, _ = parse(request)
        lines = [f"SIP/2.0 {status} {reason}"]
        for v in all_headers(headers, "via", "v"):
            lines.append(f"Via: {v}")
        lines.append(f"From: {header(headers, 'from', 'f')}")
        to = header(headers, "to", "t")
        lines.append(f"To: {to}")
        lines.append(f"Call-ID: {header(headers, 'call-id', 'i')}")
        lines.append(f"CSeq: {header(headers, 'cseq')}")
        lines.append("Content-Length: 0")
        return "\r\n".join(lines) + "\r\n\r\n"

    def request(self, method, body=None, cseq=None, uri=None):
        uri = uri or (self.remote_target if self.to_tag else self.target)
        to = f"<{self.target}>" + (f";tag={self.to_tag}" if self.to_tag else "")
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/{self.scheme} {self.host};branch=z9hG4bK{token(12)}",
            "Max-Forwards: 70",
            f"From: <sip:browser@{self.host}>;tag={self.from_tag}",
            f"To: {to}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq or self.cseq} {method}",
            f"Contact: <sip:browser@{self.host};transport={self.scheme.lower()}>",
            "User-Agent: ws_sip_client.py",
        ]
        for r in self.route:
            lines.append(f"Route: {r}")
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len((body or '').encode())}")
        return "\r\n".join(lines) + "\r\n\r\n" + (body or "")

    async def final_response(self, method):
        while True:
            kind, message = await asyncio.wait_for(self.inbox.get(), TIMEOUT)
            if kind == "closed":
                raise RuntimeError(f"connection closed waiting for the response to {method}")
            if kind != "response":
                continue
            start, headers, body = parse(message)
            cseq = header(headers, "cseq") or ""
            if not cseq.endswith(method):
                continue
            status = status_of(start)
            if status >= 200:
                return status, headers, body, message

    async def invite(self):
        sdp = (
            "v=0\r\n"
            f"o=- {random.randint(1, 1 << 30)} 1 IN IP4 127.0.0.1\r\n"
            "s=-\r\n"
            "c=IN IP4 127.0.0.1\r\n"
            "t=0 0\r\n"
            f"m=audio {random.randrange(40000, 50000, 2)} RTP/AVP 0 101\r\n"
            "a=rtpmap:0 PCMU/8000\r\n"
            "a=rtpmap:101 telephone-event/8000\r\n"
            "a=sendrecv\r\n"
        )
        await self.ws.send(self.request("INVITE", sdp))
        status, headers, body, raw = await self.final_response("INVITE")
        if status != 200:
            raise RuntimeError(f"INVITE got {status}:\n{raw}")
        to = header(headers, "to", "t")
        self.to_tag = to.split("tag=")[1].split(";")[0]
        contact = header(headers, "contact", "m")
        if not contact or f";transport={self.scheme.lower()}" not in contact.lower():
            raise RuntimeError(f"the 200's Contact does not say transport={self.scheme.lower()}: {contact}")
        self.remote_target = contact.strip("<>").split(">")[0]
        self.route = list(reversed(all_headers(headers, "record-route")))
        if "m=audio" not in body or "c=IN IP4" not in body:
            raise RuntimeError(f"the 200 has no SDP answer:\n{raw}")
        # The ACK for a 2xx is a new transaction with the INVITE's CSeq number.
        await self.ws.send(self.request("ACK", cseq=self.cseq))
        return body

    async def bye(self):
        self.cseq += 1
        await self.ws.send(self.request("BYE"))
        status, _, _, raw = await self.final_response("BYE")
        if status != 200:
            raise RuntimeError(f"BYE got {status}:\n{raw}")


def client_ssl(args):
    if not args.url.startswith("wss:"):
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(args.ca)
    ctx.check_hostname = False  # the test certificate names 127.0.0.1 as an IP; checked by chain
    return ctx


async def connect(args, subprotocols=("sip",)):
    return await websockets.connect(
        args.url, subprotocols=list(subprotocols), ssl=client_ssl(args), max_size=None, open_timeout=TIMEOUT
    )


async def one_call(args, label, hold=0.0):
    ws = await connect(args)
    if ws.subprotocol != "sip":
        raise RuntimeError(f"{label}: the server chose subprotocol {ws.subprotocol!r}, not 'sip'")
    call = Call(ws, args.url.split(":")[0].upper(), args.target, "")
    call.start_reader()
    answer = await call.invite()
    log(f"{label}: 200 with SDP ({len(answer)} bytes), ACK sent")
    return call


async def end_call(call, label):
    await call.bye()
    log(f"{label}: BYE answered 200")
    await call.ws.close()
    await call.reader


async def expect_closed(ws, label):
    """The engine closes a connection that sent something it cannot take."""
    try:
        await asyncio.wait_for(ws.recv(), TIMEOUT)
        # Any answer (e.g. 400) is fine as long as the connection ends or stays sane.
    except websockets.ConnectionClosed as e:
        log(f"{label}: closed by the engine (code {e.code})")
        return
    log(f"{label}: answered")


async def disturb(args):
    a = await one_call(args, "call A")

    # Binary garbage: not SIP; the engine drops it (parse error) and the connection may stay.
    ws = await connect(args)
    await ws.send(bytes(random.getrandbits(8) for _ in range(512)))
    await ws.send("this is not SIP at all\r\n\r\n")
    await ws.send("INVITE sip:x SIP/2.0\r\nVia: nonsense\r\n\r\n")
    # An OPTIONS after the garbage still gets its answer on the same connection.
    probe = Call(ws, args.url.split(":")[0].upper(), args.target, "")
    await ws.send(probe.request("OPTIONS"))
    while True:
        msg = await asyncio.wait_for(ws.recv(), TIMEOUT)
        msg = msg.decode() if isinstance(msg, bytes) else msg
        if probe.call_id in msg:
            log(f"garbage: then OPTIONS answered: {msg.splitlines()[0]}")
            break
    await ws.close()

    # An oversized message: the engine closes the connection (1009).
    ws = await connect(args)
    await ws.send("OPTIONS sip:x SIP/2.0\r\n" + "X-Big: " + "a" * (args.max_message + 10) + "\r\n\r\n")
    await expect_closed(ws, "oversized")

    # An INVITE, then the TCP connection dropped without a close frame.
    ws = await connect(args)
    c = Call(ws, args.url.split(":")[0].upper(), args.target, "")
    await ws.send(c.request("INVITE", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                            "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"))
    ws.transport.abort()
    log("abrupt close: INVITE sent, connection aborted")

    # An upgrade that does not offer `sip`: refused.
    try:
        ws = await connect(args, subprotocols=("chat",))
        raise RuntimeError("an upgrade without the sip subprotocol was accepted")
    except websockets.InvalidStatusCode as e:
        log(f"no sip subprotocol: refused with HTTP {e.status_code}")

    # Plain HTTP on the WebSocket port: refused, nothing else happens.
    host, port = args.url.split("//")[1].split("/")[0].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port), ssl=client_ssl(args))
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    line = await asyncio.wait_for(reader.readline(), TIMEOUT)
    log(f"plain HTTP: {line.decode().strip()}")
    writer.close()

    await end_call(a, "call A")
    b = await one_call(args, "call B")
    await end_call(b, "call B")


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True, help="ws://127.0.0.1:PORT or wss://...")
    p.add_argument("--target", required=True, help="Request-URI of the INVITE")
    p.add_argument("--ca", help="wss: the CA (or self-signed certificate) to trust")
    p.add_argument("--mode", choices=["call", "disturb"], default="call")
    p.add_argument("--max-message", type=int, default=65536)
    args = p.parse_args()
    if args.mode == "call":
        call = await one_call(args, "call")
        await end_call(call, "call")
    else:
        await disturb(args)
    log("done")


if __name__ == "__main__":
    try:
        asyncio.run(asyncio.wait_for(main(), 120))
    except Exception as e:  # noqa: BLE001 - the test prints what went wrong
        log(f"FAILED: {type(e).__name__}: {e}")
        sys.exit(1)
