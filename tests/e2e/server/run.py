#!/usr/bin/python3
"""End-to-end tests of the rerun-c server and the SDK's gRPC sink against
independent peers: Debian's python3-grpcio (client and server generated at
test time from our .proto files) and the official Rerun 0.33 web viewer.
Loopback only, ephemeral ports, every wait bounded.

usage: run.py BUILD_DIR        prints 'server-e2e: N passed, N failed'"""
import multiprocessing as mp
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import json
import urllib.request
from concurrent import futures

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
RERUN = os.path.join(BUILD, "rerun")
GEN = tempfile.mkdtemp(prefix="rr-e2e-pb-")
subprocess.check_call([sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.join(ROOT, "proto"),
                       "--python_out=" + GEN, "--grpc_python_out=" + GEN] +
                      [os.path.join(ROOT, "proto", "rerun", f) for f in ("common.proto", "log_msg.proto", "sdk_comms.proto")])
sys.path.insert(0, GEN)
import grpc  # noqa: E402
from rerun import sdk_comms_pb2 as pb, sdk_comms_pb2_grpc as pbg, log_msg_pb2 as lm, common_pb2 as cm  # noqa: E402

PATH_W = "/rerun.sdk_comms.v1alpha1.MessageProxyService/WriteMessages"
PATH_R = "/rerun.sdk_comms.v1alpha1.MessageProxyService/ReadMessages"
ENV = dict(os.environ, RERUN_ANALYTICS="off")

# ---- helpers ---------------------------------------------------------------------------


class Server:
    def __init__(self, *args, stdin=None):
        self.log = tempfile.NamedTemporaryFile(prefix="rr-e2e-srv-", suffix=".log", delete=False)
        self.p = subprocess.Popen([RERUN, "--port", "0", "--bind", "127.0.0.1", *args], stdout=subprocess.PIPE,
                                  stderr=self.log, stdin=stdin, text=True, env=dict(ENV, RERUN_LOG_LEVEL="info"))
        line = self.p.stdout.readline()
        m = re.search(r":(\d+)/proxy", line)
        if not m:
            raise RuntimeError("server did not start: " + line + self.logtext())
        self.port = int(m.group(1))
        self.url = f"rerun+http://127.0.0.1:{self.port}/proxy"

    def logtext(self):
        with open(self.log.name) as f:
            return f.read()

    def stats(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/rerun-c/stats", timeout=5) as r:
            return json.loads(r.read())

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        text = self.logtext()
        os.unlink(self.log.name)
        if "AddressSanitizer" in text or "runtime error:" in text or "LeakSanitizer" in text:
            raise AssertionError("sanitizer report from the server:\n" + text[-4000:])

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def store_info(rec="e2e", app="e2e_app"):
    m = lm.LogMsg()
    si = m.set_store_info
    si.row_id.time_ns = 1
    si.row_id.inc = 1
    si.info.store_id.kind = cm.STORE_KIND_RECORDING
    si.info.store_id.recording_id = rec
    si.info.store_id.application_id.id = app
    si.info.store_source.kind = lm.STORE_SOURCE_KIND_C_SDK
    si.info.store_source.extra.payload = b""
    si.info.store_version.crate_version_bits = 8448
    return m


def arrow(writer, seq, static=False, payload=b"x" * 64, rec="e2e", app="e2e_app", blueprint=False):
    m = lm.LogMsg()
    a = m.arrow_msg
    a.store_id.kind = cm.STORE_KIND_BLUEPRINT if blueprint else cm.STORE_KIND_RECORDING
    a.store_id.recording_id = rec
    a.store_id.application_id.id = app
    a.compression = cm.COMPRESSION_NONE
    a.uncompressed_size = len(payload)
    a.encoding = lm.ENCODING_ARROW_IPC
    a.payload = payload
    a.chunk_id.time_ns = writer
    a.chunk_id.inc = seq
    a.is_static = static
    return m


def ident(m):
    """(writer, seq) of an ArrowMsg made by arrow()."""
    return (m.arrow_msg.chunk_id.time_ns, m.arrow_msg.chunk_id.inc)


def request_bytes(m):
    b = m.SerializeToString()
    return b"\x0a" + varint(len(b)) + b


def channel(port):
    return grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", -1)])


def read_n(port, n, timeout=30, raw=False):
    """Reads n messages with a grpcio ReadMessages call."""
    ch = channel(port)
    if raw:
        call = ch.unary_stream(PATH_R, request_serializer=lambda x: x, response_deserializer=lambda x: x)
        it = call(b"", timeout=timeout)
    else:
        it = pbg.MessageProxyServiceStub(ch).ReadMessages(pb.ReadMessagesRequest(), timeout=timeout)
    out = []
    for r in it:
        out.append(r)
        if len(out) >= n:
            break
    it.cancel()
    ch.close()
    return out


def write_msgs(port, msgs, timeout=30):
    ch = channel(port)
    stub = pbg.MessageProxyServiceStub(ch)
    stub.WriteMessages(iter([pb.WriteMessagesRequest(log_msg=m) for m in msgs]), timeout=timeout)
    ch.close()


def wait_until(pred, timeout=10, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


# -- raw HTTP/2 (to misbehave in ways grpcio never would) --

def h2_frame(ftype, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def hpack_literal(name, value):
    n, v = name.encode(), value.encode()
    return b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v


def raw_h2(port, path, data_frames):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    hdr = b"".join(hpack_literal(k, v) for k, v in [(":method", "POST"), (":scheme", "http"), (":path", path),
                                                     (":authority", "x"), ("content-type", "application/grpc"),
                                                     ("te", "trailers")])
    out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0, b"") + h2_frame(1, 4, 1, hdr)
    for flags, payload in data_frames:
        out += h2_frame(0, flags, 1, payload)
    s.sendall(out)
    return s


def grpc_frame(body, flag=0):
    return bytes([flag]) + struct.pack(">I", len(body)) + body


# ---- tests ------------------------------------------------------------------------------------

def test_grpcio_write_then_read_history_and_live():
    with Server() as srv:
        msgs = [arrow(0, 1), store_info(), arrow(0, 2, static=True), arrow(0, 3),
                arrow(0, 4, blueprint=True, rec="bp")]
        write_msgs(srv.port, msgs)
        got = []
        ch = channel(srv.port)
        it = pbg.MessageProxyServiceStub(ch).ReadMessages(pb.ReadMessagesRequest(), timeout=20)
        for r in it:
            got.append(r.log_msg)
            if len(got) == 5:
                # live: written after the reader got the history
                write_msgs(srv.port, [arrow(0, 5)])
            if len(got) == 6:
                break
        it.cancel()
        kinds = [m.WhichOneof("msg") for m in got]
        assert kinds[0] == "set_store_info", kinds
        # persistent (store info, blueprint), static, then the others in arrival order, then live
        assert [ident(m) for m in got[1:]] == [(0, 4), (0, 2), (0, 1), (0, 3), (0, 5)], [ident(m) for m in got[1:]]
        assert got[0] == msgs[1], "store info changed in transit"
        assert got[3] == msgs[0] and got[5].arrow_msg.payload == b"x" * 64


def test_sdk_sink_to_grpcio_server():
    received = []
    done = threading.Event()

    class Proxy(pbg.MessageProxyServiceServicer):
        def WriteMessages(self, it, ctx):
            for r in it:
                received.append(r.log_msg)
            done.set()
            return pb.WriteMessagesResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    pbg.add_MessageProxyServiceServicer_to_server(Proxy(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        r = subprocess.run([os.path.join(BUILD, "examples", "points3d"), "--connect", f"rerun+http://127.0.0.1:{port}/proxy"],
                           env=ENV, timeout=60, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert done.wait(20), "the SDK did not end its WriteMessages call"
    finally:
        server.stop(0)
    assert received and received[0].WhichOneof("msg") == "set_store_info", [m.WhichOneof("msg") for m in received]
    info = received[0].set_store_info.info
    assert info.store_id.application_id.id == "rerun_example_points3d"
    assert info.store_source.kind == lm.STORE_SOURCE_KIND_C_SDK
    arrows = [m for m in received if m.WhichOneof("msg") == "arrow_msg"]
    assert arrows and all(a.arrow_msg.store_id.recording_id == info.store_id.recording_id for a in arrows)
    assert all(a.arrow_msg.encoding == lm.ENCODING_ARROW_IPC and a.arrow_msg.uncompressed_size > 0 for a in arrows)


def test_sdk_buffers_while_server_comes_up_and_reconnects():
    # reserve a port, start the example first, the server 1 s later
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    ex = subprocess.Popen([os.path.join(BUILD, "examples", "points3d"), "--connect", f"rerun+http://127.0.0.1:{port}/proxy"],
                          env=dict(ENV), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    p = subprocess.Popen([RERUN, "--port", str(port), "--bind", "127.0.0.1"], env=ENV, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        p.stdout.readline()
        ex.wait(30)
        assert ex.returncode == 0
        msgs = read_n(port, 2, timeout=10)
        assert msgs[0].log_msg.WhichOneof("msg") == "set_store_info"
        assert msgs[1].log_msg.WhichOneof("msg") == "arrow_msg"
    finally:
        p.terminate()
        p.wait(10)


def test_grpcio_large_messages_intact():
    """Large messages: written without a copy by the server (HTTP/2 DATA frames
    referencing them) and mixed with small ones, history and live, byte-exact."""
    with Server() as srv:
        pay = [bytes((i * 7 + k) % 251 for i in range(n)) for k, n in enumerate([300_000, 100, 2_000_000, 5000, 70_000])]
        msgs = [store_info()] + [arrow(1, k, payload=p) for k, p in enumerate(pay)]
        write_msgs(srv.port, msgs[:4])
        got = []
        ch = channel(srv.port)
        it = pbg.MessageProxyServiceStub(ch).ReadMessages(pb.ReadMessagesRequest(), timeout=30)
        for r in it:
            got.append(r.log_msg)
            if len(got) == 4:
                write_msgs(srv.port, msgs[4:])  # live
            if len(got) == len(msgs):
                break
        it.cancel()
        ch.close()
        assert got[0] == msgs[0]
        assert sorted(ident(m) for m in got[1:]) == [(1, k) for k in range(len(pay))]
        for m in got[1:]:
            assert m == msgs[1 + ident(m)[1]], f"message {ident(m)} changed in transit"


def _recv_frames(s, buf, want):
    """Reads HTTP/2 frames until want(type, flags, stream, payload) is true; answers SETTINGS."""
    while True:
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            t, fl, st = buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            payload = bytes(buf[9:9 + n])
            del buf[:9 + n]
            if t == 4 and not fl & 1:
                s.sendall(h2_frame(4, 1, 0, b""))
            if want(t, fl, st, payload):
                return payload
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError("connection closed")
        buf += chunk


def _writer(port, w, n, start_evt):
    """A WriteMessages client speaking raw HTTP/2 (fast enough to load the
    server; grpcio's Python streaming tops out near 5k messages/s)."""
    first = request_bytes(store_info(rec=f"w{w}"))
    tmpl = bytearray(request_bytes(arrow(0x1111111111111111, 0x2222222222222222, rec=f"w{w}")))
    o_w = bytes(tmpl).index(struct.pack("<Q", 0x1111111111111111))
    o_s = bytes(tmpl).index(struct.pack("<Q", 0x2222222222222222))
    body = bytearray(grpc_frame(first))
    for i in range(n):
        struct.pack_into("<Q", tmpl, o_w, w)
        struct.pack_into("<Q", tmpl, o_s, i)
        body += grpc_frame(bytes(tmpl))
    frames = bytearray()
    for o in range(0, len(body), 16384):
        last = o + 16384 >= len(body)
        frames += h2_frame(0, 1 if last else 0, 1, bytes(body[o:o + 16384]))
    start_evt.wait(30)
    s = raw_h2(port, PATH_W, [])
    s.settimeout(120)
    buf = bytearray()
    _recv_frames(s, buf, lambda t, fl, st, p: t == 8 and st == 0)  # the server opened its connection window
    s.sendall(frames)
    trailers = []
    _recv_frames(s, buf, lambda t, fl, st, p: t == 1 and fl & 1 and (trailers.append(p) or True))
    s.close()


def _reader(port, expect_total, q, ready):
    ch = channel(port)
    call = ch.unary_stream(PATH_R, request_serializer=lambda x: x, response_deserializer=lambda x: x)
    it = call(b"", timeout=170)
    nxt = {}
    bad = 0
    count = 0
    infos = 0
    if ready is not None:
        ready.set()
    try:
        for r in it:
            m = pb.ReadMessagesResponse.FromString(r).log_msg
            if m.WhichOneof("msg") == "set_store_info":
                infos += 1
                continue
            w, s = ident(m)
            if nxt.get(w, 0) != s:
                bad += 1
            nxt[w] = s + 1
            count += 1
            if count == expect_total:
                break
    finally:
        it.cancel()
    q.put((count, bad, infos, dict(nxt)))


def test_load_8_writers_4_readers():
    W, N, R = 8, int(os.environ.get("E2E_LOAD_N", "20000")), 4
    with Server() as srv:
        ctx = mp.get_context("fork")
        q = ctx.Queue()
        go = ctx.Event()
        readers = []
        for i in range(R // 2):  # live readers, attached before the writers start
            ready = ctx.Event()
            p = ctx.Process(target=_reader, args=(srv.port, W * N, q, ready))
            p.start()
            ready.wait(20)
            readers.append(p)
        writers = [ctx.Process(target=_writer, args=(srv.port, w, N, go)) for w in range(W)]
        for p in writers:
            p.start()
        t0 = time.time()
        go.set()
        time.sleep(0.5)
        for i in range(R - R // 2):  # late readers: history first, then live
            p = ctx.Process(target=_reader, args=(srv.port, W * N, q, None))
            p.start()
            readers.append(p)
        for p in writers:
            p.join(170)
            assert p.exitcode == 0, "writer failed"
        results = [q.get(timeout=170) for _ in readers]
        for p in readers:
            p.join(10)
        dt = time.time() - t0
        for count, bad, infos, nxt in results:
            assert count == W * N and bad == 0, (count, bad)
            assert infos == W and nxt == {w: N for w in range(W)}
        st = srv.stats()
        assert st["messages_received"] == W * N + W and st["messages_dropped"] == 0, st
        print(f"    load: {W}x{N} messages, {R} readers: {dt:.1f} s ({W * N / dt:.0f} msg/s in, {R * W * N / dt:.0f} msg/s out)")


def test_faults_do_not_affect_others():
    with Server("--reader-max-pending", "2MB") as srv:
        write_msgs(srv.port, [store_info()] + [arrow(1, i) for i in range(100)])
        base = srv.stats()
        # 1. a reader killed mid-stream
        ctx = mp.get_context("fork")
        q = ctx.Queue()
        victim = ctx.Process(target=_reader, args=(srv.port, 10 ** 9, q, None))
        victim.start()
        time.sleep(1.0)
        os.kill(victim.pid, signal.SIGKILL)
        victim.join()
        # 2. a writer killed mid-message: gRPC header says 1000 bytes, 10 arrive, then the socket closes
        s = raw_h2(srv.port, PATH_W, [(0, b"\x00\x00\x00\x03\xe8" + b"\x0a" * 10)])
        time.sleep(0.2)
        s.close()
        # 3. a writer that stalls mid-message and stays connected
        stalled = raw_h2(srv.port, PATH_W, [(0, b"\x00\x00\x00\x03\xe8" + b"\x0a" * 10)])
        # 4. garbage: bad HTTP/2, compressed gRPC flag, a bad LogMsg, a bad request protobuf
        g1 = socket.create_connection(("127.0.0.1", srv.port))
        g1.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\xff" * 64)
        g2 = raw_h2(srv.port, PATH_W, [(0, grpc_frame(request_bytes(arrow(9, 9)), flag=1))])
        bad_logmsg = b"\x0a\x05" + b"\x12\x03\xff\xff\xff"
        g3 = raw_h2(srv.port, PATH_W, [(0, grpc_frame(bad_logmsg))])
        g4 = raw_h2(srv.port, PATH_W, [(0, grpc_frame(b"\x0a\x7f\x00"))])
        # 5. a reader that never reads (flow control stops it; its queue passes the bound)
        slow = raw_h2(srv.port, PATH_R, [(1, grpc_frame(b""))])
        time.sleep(0.3)
        # the others are served: a writer and a reader finish normally
        t0 = time.time()
        write_msgs(srv.port, [arrow(2, i, payload=b"y" * 20000) for i in range(200)])
        got = read_n(srv.port, 1 + 100 + 200, timeout=20)
        assert time.time() - t0 < 15
        assert [ident(r.log_msg) for r in got[1:]] == [(1, i) for i in range(100)] + [(2, i) for i in range(200)]
        log = wait_until(lambda: (lambda t: t if "reader too slow" in t else None)(srv.logtext()), 10, "slow reader drop")
        for reason in ["bad HTTP/2", "compressed message", "bad LogMsg", "malformed WriteMessagesRequest", "reader too slow"]:
            assert reason in log, (reason, log[-3000:])
        for s_ in (stalled, g1, g2, g3, g4, slow):
            s_.close()
        # memory returns: only the history holds messages; only our stats connection is open
        st = wait_until(lambda: (lambda s: s if s["connections"] == 1 and s["readers"] == 0 else None)(srv.stats()), 10,
                        "connections to close")
        assert st["message_bytes_live"] == st["history_bytes"], st
        assert st["history_messages"] == base["history_messages"] + 200
        assert srv.p.poll() is None


def test_memory_limit_drops_oldest_temporal_first():
    with Server("--server-memory-limit", "100kB") as srv:
        msgs = [store_info(), arrow(0, 0, static=True, payload=b"s" * 1000)]
        msgs += [arrow(1, i, payload=b"t" * 2000) for i in range(200)]
        write_msgs(srv.port, msgs)
        st = wait_until(lambda: (lambda s: s if s["messages_received"] == 202 else None)(srv.stats()), 10, "messages")
        assert st["history_bytes"] <= 100000 and st["messages_dropped"] > 100, st
        kept = st["history_messages"]
        got = read_n(srv.port, kept, timeout=10)
        assert got[0].log_msg.WhichOneof("msg") == "set_store_info"
        assert ident(got[1].log_msg) == (0, 0)
        seqs = [ident(r.log_msg)[1] for r in got[2:]]
        assert seqs == list(range(200 - len(seqs), 200)), seqs  # the newest, in order
        wait_until(lambda: "memory limit" in srv.logtext(), 5, "drop report in the log")


def test_files_stdin_and_save():
    golden = os.path.join(ROOT, "..", "shared", "golden", "rrd", "plain.rrd")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "saved.rrd")
        with open(golden, "rb") as f:
            with Server("-", golden, "--save", out, stdin=f) as srv:
                got = read_n(srv.port, 4, timeout=10)
                assert [r.log_msg.WhichOneof("msg") for r in got] == ["set_store_info"] * 2 + ["arrow_msg"] * 2 or \
                    sorted(r.log_msg.WhichOneof("msg") for r in got) == ["arrow_msg"] * 2 + ["set_store_info"] * 2
                write_msgs(srv.port, [store_info(rec="live"), arrow(5, 5, rec="live")])
                wait_until(lambda: srv.stats()["messages_received"] == 6, 10, "messages")
        data = open(out, "rb").read()
        assert data[:4] == b"RRF2"
        i, kinds = 12, []
        while i + 16 <= len(data):
            k, n = struct.unpack_from("<QQ", data, i)
            kinds.append(k)
            i += 16 + n
        assert i == len(data) and len(kinds) == 6, (i, len(data), kinds)


def _conformance_dir():
    for d in (os.path.join(BUILD, "conformance"), os.path.join(ROOT, "build", "conformance")):
        if os.path.exists(os.path.join(d, "check.mjs")) and os.path.isdir(os.path.join(d, "node_modules")):
            return d
    return None


def test_official_web_viewer_sees_live_stream():
    conf = _conformance_dir()
    if not conf or not os.path.exists("/usr/bin/chromium"):
        raise Skip("no conformance harness (npm ci in build/conformance) or chromium")
    with Server() as srv:
        # the viewer connects first (it waits up to 60 s for a recording); the
        # example streams a few seconds later, so its data arrives live
        chk = subprocess.Popen(["node", os.path.join(conf, "check.mjs"), srv.url, "--wait", "6000", "--timeline", "frame",
                                "--expect-min", "0", "--expect-max", "99"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_until(lambda: "gRPC-Web reader attached" in srv.logtext() or chk.poll() is not None, 90, "the viewer")
        ex = subprocess.run([os.path.join(BUILD, "examples", "points3d"), "--connect", srv.url], env=ENV,
                            capture_output=True, timeout=60)
        assert ex.returncode == 0
        out, err = chk.communicate(timeout=170)
        r = subprocess.CompletedProcess(chk.args, chk.returncode, out, err)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
        rep = json.loads(r.stdout[r.stdout.index("{"):])
        assert rep["recordings"][0]["application_id"] == "rerun_example_points3d"
        assert "gRPC-Web reader attached" in srv.logtext()


def test_serve_in_process_to_grpcio_and_official_viewer():
    # an example hosting the server (serve_web: no connection between the
    # SDK and the server) serves what it logged to independent readers
    ex = subprocess.Popen([os.path.join(BUILD, "examples", "images"), "--serve", "0"], env=ENV,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = ex.stderr.readline()
        m = re.search(r"gRPC rerun\+http://127\.0\.0\.1:(\d+)/proxy", line)
        assert m, line
        port = int(m.group(1))
        got = []
        it = pbg.MessageProxyServiceStub(channel(port)).ReadMessages(pb.ReadMessagesRequest(), timeout=3)
        try:
            for r in it:
                got.append(r.log_msg)
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED, e
        kinds = [g.WhichOneof("msg") for g in got]
        assert kinds[0] == "set_store_info" and kinds.count("arrow_msg") >= 4, kinds
        assert got[0].set_store_info.info.store_id.application_id.id == "rerun_example_images"
        conf = _conformance_dir()
        if conf and os.path.exists("/usr/bin/chromium"):
            r = subprocess.run(["node", os.path.join(conf, "check.mjs"), f"rerun+http://127.0.0.1:{port}/proxy",
                                "--wait", "6000", "--timeline", "frame", "--expect-min", "0", "--expect-max", "19"],
                               capture_output=True, text=True, timeout=170)
            assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
            rep = json.loads(r.stdout[r.stdout.index("{"):])
            assert rep["recordings"][0]["application_id"] == "rerun_example_images"
        ex.send_signal(signal.SIGTERM)
        assert ex.wait(timeout=20) == 0
    finally:
        if ex.poll() is None:
            ex.kill()
            ex.wait()


class Skip(Exception):
    pass


def main():
    tests = [(k, v) for k, v in globals().items() if k.startswith("test_") and callable(v)]
    only = os.environ.get("E2E_ONLY")
    passed = failed = skipped = 0
    for name, fn in tests:
        if only and only not in name:
            continue
        t0 = time.time()
        try:
            fn()
            passed += 1
            print(f"ok   {name} ({time.time() - t0:.1f} s)", flush=True)
        except Skip as e:
            skipped += 1
            print(f"skip {name}: {e}", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {name} ({time.time() - t0:.1f} s)\n{traceback.format_exc()}", flush=True)
    print(f"server-e2e: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
