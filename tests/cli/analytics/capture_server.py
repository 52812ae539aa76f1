#!/usr/bin/env python3
"""A loopback stand-in for a PostHog-compatible endpoint.

Prints "PORT PID" on its first stdout line, then serves on 127.0.0.1:PORT.
Every accepted connection appends {"type":"connect"} to --out, and every
complete request {"type":"request","method","path","headers","body"} (one JSON
object per line). Modes: ok (200), fail (500), hang (accept, read, never answer).
"""
import argparse
import json
import os
import socket
import sys
import threading
import time

lock = threading.Lock()


def log(out, obj):
    with lock, open(out, "a", encoding="utf-8") as f:
        f.write(json.dumps(obj) + "\n")


def serve_conn(conn, args):
    log(args.out, {"type": "connect"})
    conn.settimeout(30)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(body) < n:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        log(args.out, {"type": "request", "method": method, "path": path, "headers": headers,
                       "body": body.decode("utf-8", "replace")})
        if args.mode == "hang":
            time.sleep(3600)
            return
        status = b"200 OK" if args.mode == "ok" else b"500 Internal Server Error"
        conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 15\r\nConnection: close\r\n\r\n{\"status\": \"1\"}")
    except (OSError, ValueError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--mode", choices=["ok", "fail", "hang"], default="ok")
    args = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    print(s.getsockname()[1], os.getpid(), flush=True)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve_conn, args=(conn, args), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
