#!/usr/bin/env python3
"""End-to-end tests of `rerun analytics` and the analytics step run before
every command. Usage: run.py path/to/rerun

Each test gets its own HOME / XDG dirs under a temporary directory and starts
the loopback capture server when it needs one. Prints
"analytics: N passed, N failed" as its last line; exit status 1 on failure.
Every request body captured by any test is grepped for the user data the tests
put on command lines (file paths, host names, e-mail addresses)."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RERUN = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build/rerun"
TESTS = []
ALL_BODIES = []
SUFFIX = ".rerun-c.jsonl"
USER_DATA = ["secret_path_7f3a", "secret-host-91b2", "/tmp/user_file", "person@example.org", "world/points"]


def test(fn):
    TESTS.append(fn)
    return fn


class Env:
    def __init__(self, tmp):
        self.tmp = tmp
        self.home = os.path.join(tmp, "home")
        self.cfg_home = os.path.join(tmp, "xdg_config")
        self.data_home = os.path.join(tmp, "xdg_data")
        os.makedirs(self.home)
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("CI", "DO_NOT_TRACK", "RERUN_ANALYTICS", "FORCE_RERUN_ANALYTICS",
                                 "RERUN_ANALYTICS_ENDPOINT", "RERUN_ANALYTICS_KEY")}
        self.env.update(HOME=self.home, XDG_CONFIG_HOME=self.cfg_home, XDG_DATA_HOME=self.data_home)
        self.config = os.path.join(self.cfg_home, "rerun", "analytics.json")
        self.data = os.path.join(self.data_home, "rerun", "analytics")

    def run(self, *args, stdin=None, env=None, timeout=20):
        e = dict(self.env)
        e.update(env or {})
        t0 = time.monotonic()
        p = subprocess.run([RERUN, *args], input=stdin, capture_output=True, text=True, env=e, timeout=timeout)
        p.elapsed = time.monotonic() - t0
        return p

    def read_config(self):
        with open(self.config, encoding="utf-8") as f:
            return f.read()

    def pending(self):
        if not os.path.isdir(self.data):
            return []
        return sorted(f for f in os.listdir(self.data) if f.endswith(SUFFIX))

    def pending_events(self):
        evs = []
        for f in self.pending():
            with open(os.path.join(self.data, f), encoding="utf-8") as fh:
                evs += [json.loads(l) for l in fh if l.strip()]
        return evs

    def all_files(self):
        out = []
        for root, _, files in os.walk(self.tmp):
            out += [os.path.join(root, f) for f in files if "capture" not in f]
        return sorted(out)


class Server:
    def __init__(self, tmp, mode="ok"):
        self.out = os.path.join(tmp, "capture-%s-%d.jsonl" % (mode, time.monotonic_ns()))
        open(self.out, "w").close()
        self.p = subprocess.Popen([sys.executable, os.path.join(HERE, "capture_server.py"), "--out", self.out,
                                   "--mode", mode], stdout=subprocess.PIPE, text=True)
        self.port = int(self.p.stdout.readline().split()[0])
        self.url = "http://127.0.0.1:%d/" % self.port

    def env(self, key="phc_test_key_for_rerun_c_tests"):
        return {"RERUN_ANALYTICS_ENDPOINT": self.url, "RERUN_ANALYTICS_KEY": key}

    def log(self):
        with open(self.out, encoding="utf-8") as f:
            return [json.loads(l) for l in f if l.strip()]

    def requests(self):
        reqs = [r for r in self.log() if r["type"] == "request"]
        for r in reqs:
            ALL_BODIES.append(r["body"])
        return reqs

    def connections(self):
        return sum(1 for r in self.log() if r["type"] == "connect")

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(5)
        self.requests()


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def first_run(e):
    """Creates the config (first run) and returns the process result."""
    p = e.run("--version")
    check(p.returncode == 0, "rerun --version failed: %s" % p.stderr)
    return p


# --------------------------------------------------------------------------------------------
@test
def first_run_notice_and_config(e):
    p = first_run(e)
    check("rerun analytics disable" in p.stderr and "never records" in p.stderr, "no notice: %r" % p.stderr)
    check(p.stdout.strip() == "rerun-c 0.33.0", "stdout polluted: %r" % p.stdout)
    text = e.read_config()
    check(not text.endswith("\n") and "\n" not in text and ": " not in text, "config not compact: %r" % text)
    cfg = json.loads(text)
    check(list(cfg) == ["analytics_enabled", "analytics_id", "metadata", "config_file_path", "data_dir_path"],
          "key order %s" % list(cfg))
    check(cfg["analytics_enabled"] is True and re.fullmatch(r"[0-9a-f]{32}", cfg["analytics_id"]), cfg)
    check(cfg["config_file_path"] == e.config and cfg["data_dir_path"] == e.data, cfg)
    files = e.pending()
    check(len(files) == 1 and re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.rerun-c\.jsonl",
                                            files[0]), files)
    evs = e.pending_events()
    check(len(evs) == 1 and list(evs[0]) == ["time_utc", "kind", "name", "props"], evs)
    ev = evs[0]
    check(ev["kind"] == "Append" and ev["name"] == "cli_command_invoked", ev)
    check(ev["props"] == {"command": {"String": "viewer"}, "event_id": {"Integer": 1}}, ev)
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", ev["time_utc"]) and
          not re.search(r"\.\d*0Z$", ev["time_utc"]), ev["time_utc"])
    p2 = e.run("--version")
    check("analytics" not in p2.stderr, "notice shown twice: %r" % p2.stderr)
    check(json.loads(e.read_config())["analytics_id"] == cfg["analytics_id"], "id changed")


@test
def xdg_relative_is_ignored(e):
    p = e.run("--version", env={"XDG_CONFIG_HOME": "relative/cfg", "XDG_DATA_HOME": "rel"})
    check(p.returncode == 0, p.stderr)
    cfgpath = os.path.join(e.home, ".config", "rerun", "analytics.json")
    check(os.path.isfile(cfgpath), "HOME fallback not used")
    cfg = json.loads(open(cfgpath).read())
    check(cfg["data_dir_path"] == os.path.join(e.home, ".local", "share", "rerun", "analytics"), cfg)


@test
def config_command(e):
    first_run(e)
    p = e.run("analytics", "config")
    check(p.returncode == 0, p.stderr)
    cfg = json.loads(p.stdout)
    check(p.stdout.startswith('{\n  "analytics_enabled": true,\n  "analytics_id": '), p.stdout)
    check(cfg["config_file_path"] == e.config and cfg["data_dir_path"] == e.data, cfg)
    check(cfg == json.loads(e.read_config()), "differs from the file")


@test
def config_null_when_absent_and_env_disabled(e):
    p = e.run("analytics", "config", env={"DO_NOT_TRACK": "1"})
    check(p.returncode == 0 and p.stdout.strip() == "null", (p.stdout, p.stderr))
    check("DO_NOT_TRACK" in p.stderr, p.stderr)
    check(e.all_files() == [], "files created: %s" % e.all_files())


@test
def damaged_config_is_reported_and_kept_off(e):
    first_run(e)
    for f in e.pending():
        os.unlink(os.path.join(e.data, f))
    with open(e.config, "w") as f:
        f.write('{"analytics_enabled": false, "analytics_id": "abc')  # truncated by hand editing
    p = e.run("--version")
    check(p.returncode == 0, p.stderr)
    check("damaged" in p.stderr and e.config in p.stderr, "not reported: %r" % p.stderr)
    check("Welcome" not in p.stderr, "first-run notice for a damaged config")
    cfg = json.loads(e.read_config())
    check(cfg["analytics_enabled"] is False, "re-enabled: %s" % cfg)
    check(e.pending() == [], "events recorded while disabled")
    p = e.run("analytics", "config")
    check(json.loads(p.stdout)["analytics_enabled"] is False, p.stdout)


@test
def damaged_config_keeps_explicit_choice_and_id(e):
    first_run(e)
    with open(e.config, "w") as f:
        f.write('{"analytics_enabled": true, "analytics_id": "my-own-id", "unknown": 1}')  # paths missing
    p = e.run("--version")
    check("damaged" in p.stderr and "config_file_path" in p.stderr, p.stderr)
    cfg = json.loads(e.read_config())
    check(cfg["analytics_enabled"] is True and cfg["analytics_id"] == "my-own-id", cfg)
    check(cfg["config_file_path"] == e.config, cfg)


@test
def unknown_keys_ignored_metadata_optional(e):
    os.makedirs(os.path.dirname(e.config))
    with open(e.config, "w") as f:
        json.dump({"analytics_enabled": True, "analytics_id": "hand-made", "config_file_path": e.config,
                   "data_dir_path": e.data, "future_key": [1, 2]}, f)
    p = e.run("analytics", "config")
    check(p.returncode == 0 and "damaged" not in p.stderr and "Welcome" not in p.stderr, p.stderr)
    check(json.loads(p.stdout)["analytics_id"] == "hand-made", p.stdout)


@test
def enable_disable(e):
    p = e.run("analytics", "disable")
    check(p.returncode == 0 and p.stderr.strip() == "Analytics disabled" and p.stdout == "", (p.stdout, p.stderr))
    check(json.loads(e.read_config())["analytics_enabled"] is False, "not saved")
    check(e.pending() == [], "disable recorded an event")
    p = e.run("--version")
    check(e.pending() == [] and "Welcome" not in p.stderr, "recorded while disabled")
    p = e.run("analytics", "enable")
    check(p.returncode == 0 and p.stderr.strip() == "Analytics enabled", p.stderr)
    check(json.loads(e.read_config())["analytics_enabled"] is True, "not saved")
    check(e.pending() == [], "enable recorded an event while analytics was off")
    e.run("--version")
    check(len(e.pending()) == 1, "events not recorded after enable: %s" % e.pending())


@test
def email(e):
    first_run(e)
    p = e.run("analytics", "email", "person@example.org")
    check(p.returncode == 0 and p.stdout == "", (p.stdout, p.stderr))
    cfg = json.loads(e.read_config())
    check(cfg["metadata"] == {"email": {"String": "person@example.org"}}, cfg)
    evs = e.pending_events()
    cli = [x for x in evs if x["props"].get("subcommand") == {"String": "email"}]
    check(len(cli) == 1 and "person@example.org" not in json.dumps(evs), evs)
    p = e.run("analytics", "email", "not an address")
    check(p.returncode == 1 and p.stderr.startswith("Error: "), p.stderr)
    p = e.run("analytics", "email")
    check(p.returncode == 2, p.stderr)


@test
def clear(e):
    first_run(e)
    e.run("analytics", "disable")
    old = json.loads(e.read_config())
    check(len(e.pending()) == 1, e.pending())
    for answer in ("n\n", "", "maybe\n"):
        p = e.run("analytics", "clear", stdin=answer)
        check(p.returncode == 0 and "[y/N]" in p.stderr and "Nothing deleted" in p.stderr, p.stderr)
        check(len(e.pending()) == 1 and json.loads(e.read_config()) == old, "deleted without consent")
    p = e.run("analytics", "clear", stdin="y\n")
    check(p.returncode == 0 and "Deleted" in p.stderr, p.stderr)
    new = json.loads(e.read_config())
    check(e.pending() == [] and new["analytics_id"] != old["analytics_id"], new)
    check(new["analytics_enabled"] is False, "clear re-enabled analytics")
    e.run("analytics", "enable")
    e.run("--version")
    p = e.run("analytics", "clear", "--yes", stdin="")
    check(p.returncode == 0 and "[y/N]" not in p.stderr and e.pending() == [], (p.stderr, e.pending()))
    check(json.loads(e.read_config())["analytics_enabled"] is True, "clear changed the choice")


@test
def details(e):
    first_run(e)
    p = e.run("analytics", "details")
    check(p.returncode == 0, p.stderr)
    check("What is collected" in p.stdout and "rerun analytics disable" in p.stdout, p.stdout)
    check("never sent" in p.stdout, "no-key build not explained")
    sessions = [f[:-len(SUFFIX)] for f in e.pending()]
    check(len(sessions) == 2 and all(s in p.stdout for s in sessions), (sessions, p.stdout))
    check('"event": "cli_command_invoked"' in p.stdout and '"subcommand": "details"' in p.stdout, p.stdout)


@test
def help_texts(e):
    p = e.run("analytics", "--help")
    check(p.returncode == 0, p.stderr)
    for w in ("details", "clear", "--yes", "email", "enable", "disable", "config", "DO_NOT_TRACK"):
        check(w in p.stdout, "help lacks %s" % w)
    p = e.run("--help")
    check("analytics" in p.stdout, p.stdout)
    check(e.all_files() == [], "--help touched the disk")
    p = e.run("analytics", "bogus")
    check(p.returncode == 2 and "unknown" in p.stderr, p.stderr)


@test
def disabled_paths_write_and_send_nothing(e):
    srv = Server(e.tmp)
    try:
        for env in ({"DO_NOT_TRACK": "1"}, {"CI": ""}, {"CI": "true"}, {"RERUN_ANALYTICS": "off"},
                    {"CI": "1", "FORCE_RERUN_ANALYTICS": "yes", "DO_NOT_TRACK": "1"}):
            env.update(srv.env())
            p = e.run("--version", env=env)
            check(p.returncode == 0 and p.stderr == "", (env, p.stderr))
            check(e.all_files() == [], "files created with %s: %s" % (env, e.all_files()))
        # Config opt-out, with events pending from earlier runs: untouched and unsent.
        first_run(e)
        e.run("--version")
        e.run("analytics", "disable")
        before = {f: open(os.path.join(e.data, f)).read() for f in e.pending()}
        for _ in range(2):
            e.run("--version", env=srv.env())
        after = {f: open(os.path.join(e.data, f)).read() for f in e.pending()}
        check(before == after, "pending files changed while disabled")
        time.sleep(0.2)
        check(srv.connections() == 0, "connection made while disabled")
    finally:
        srv.stop()


@test
def no_key_keeps_events_on_disk(e):
    srv = Server(e.tmp)
    try:
        first_run(e)
        for _ in range(3):
            p = e.run("--version", env={"RERUN_ANALYTICS_ENDPOINT": srv.url})
        check(len(e.pending()) == 4, e.pending())
        time.sleep(0.2)
        check(srv.connections() == 0, "sent without a project key")
    finally:
        srv.stop()


def check_batch(req, distinct_id):
    check(req["method"] == "POST" and req["path"] == "/", req)
    check(req["headers"].get("content-type") == "text/plain; charset=utf-8", req["headers"])
    body = json.loads(req["body"])
    check(list(body) == ["api_key", "batch"] and body["api_key"] == "phc_test_key_for_rerun_c_tests", body)
    for ev in body["batch"]:
        check(list(ev)[:4] == ["timestamp", "event", "distinct_id", "properties"], ev)
        check(ev["distinct_id"] == distinct_id, ev)
        check(re.fullmatch(r"[0-9a-f-]{36}", ev["properties"]["session_id"]), ev)
    return body["batch"]


@test
def sending_after_first_run(e):
    srv = Server(e.tmp)
    try:
        p = e.run("--version", env=srv.env())  # first run: recorded, not sent
        first_session = e.pending()[0][:-len(SUFFIX)]
        time.sleep(0.2)
        check(srv.connections() == 0, "first run sent something")
        did = json.loads(e.read_config())["analytics_id"]
        p = e.run("analytics", "config", "--help", env=srv.env())
        p = e.run("--save=/tmp/user_file/secret_path_7f3a.rrd", "--connect", "rerun+http://secret-host-91b2:9876",
                  env=srv.env())
        check(p.returncode == 2, "unknown-command path changed: %d %s" % (p.returncode, p.stderr))
        reqs = srv.requests()
        batches = [check_batch(r, did) for r in reqs]
        evs = [ev for b in batches for ev in b]
        check(len(evs) == 3, "expected 3 events, got %s" % evs)
        check(e.pending() == [], "sent files not deleted: %s" % e.pending())
        first = [ev for ev in evs if ev["properties"]["session_id"] == first_session]
        check(len(first) == 1 and first[0]["properties"] == {"command": "viewer", "event_id": 1,
                                                             "session_id": first_session}, first)
        flagged = [ev for ev in evs if ev["properties"].get("save")]
        check(len(flagged) == 1 and flagged[0]["properties"]["connect"] is True, evs)
        check(set(flagged[0]["properties"]) == {"command", "save", "connect", "event_id", "session_id"}, flagged)
        check(not os.path.exists(os.path.join(e.data, "retry-state")), "retry state after success")
    finally:
        srv.stop()


def closed_port_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "http://127.0.0.1:%d/" % port


@test
def offline_retry_with_backoff(e):
    first_run(e)
    off = {"RERUN_ANALYTICS_ENDPOINT": closed_port_url(), "RERUN_ANALYTICS_KEY": "phc_test_key_for_rerun_c_tests"}
    p = e.run("--version", env=off)
    check(p.returncode == 0, p.stderr)
    check(len(e.pending()) == 2, "events lost after a failed send: %s" % e.pending())
    state = json.load(open(os.path.join(e.data, "retry-state")))
    check(state["failures"] == 1 and state["next_attempt_unix_s"] > time.time() + 30, state)
    srv = Server(e.tmp)
    try:
        e.run("--version", env=srv.env())  # still backing off: no connection
        time.sleep(0.2)
        check(srv.connections() == 0, "retried before the back-off elapsed")
        check(len(e.pending()) == 3, e.pending())
        with open(os.path.join(e.data, "retry-state"), "w") as f:
            json.dump({"failures": 1, "next_attempt_unix_s": int(time.time()) - 1}, f)
        e.run("--version", env=srv.env())
        evs = [ev for r in srv.requests() for ev in json.loads(r["body"])["batch"]]
        check(len(evs) == 4, "expected all 4 events after the retry, got %d" % len(evs))
        check(e.pending() == [] and not os.path.exists(os.path.join(e.data, "retry-state")),
              (e.pending(), "state kept"))
    finally:
        srv.stop()


@test
def failing_server_keeps_events(e):
    first_run(e)
    srv = Server(e.tmp, "fail")
    try:
        e.run("--version", env=srv.env())
        check(len(srv.requests()) >= 1, "no attempt")
        check(len(e.pending()) == 2, "events lost after HTTP 500: %s" % e.pending())
        check(json.load(open(os.path.join(e.data, "retry-state")))["failures"] == 1, "no back-off")
    finally:
        srv.stop()


@test
def hung_server_bounds_exit_to_1s(e):
    first_run(e)
    srv = Server(e.tmp, "hang")
    try:
        base = e.run("--version", env={"RERUN_ANALYTICS": "off"})
        p = e.run("--version", env=srv.env())
        check(p.returncode == 0, p.stderr)
        check(srv.connections() >= 1, "no connection attempted")
        check(p.elapsed - base.elapsed < 1.0, "exit delayed %.3f s by a hung endpoint" % (p.elapsed - base.elapsed))
        check(len(e.pending()) == 2, "events lost after an abandoned send: %s" % e.pending())
        p = e.run("analytics", "details", env=srv.env())
        check(p.elapsed < 1.0, "details took %.3f s" % p.elapsed)
    finally:
        srv.stop()


@test
def concurrent_live_file_not_stolen(e):
    """A file locked by a live process is neither sent nor deleted by another."""
    first_run(e)
    lockfile = os.path.join(e.data, "11111111-2222-4333-8444-555555555555" + SUFFIX)
    original = os.path.join(e.data, "99999999-2222-4333-8444-555555555555.json")
    with open(original, "w") as f:  # a file of Rerun's own implementation: not ours to send
        f.write('{"time_utc":"2026-01-01T00:00:00Z","kind":"Append","name":"original_event","props":{}}\n')
    with open(lockfile, "w") as f:
        f.write('{"time_utc":"2026-01-01T00:00:00Z","kind":"Append","name":"viewer_started","props":{}}\n')
    import fcntl
    fh = open(lockfile)
    fcntl.flock(fh, fcntl.LOCK_EX)
    srv = Server(e.tmp)
    try:
        e.run("--version", env=srv.env())
        evs = [ev for r in srv.requests() for ev in json.loads(r["body"])["batch"]]
        check(len(evs) == 2 and os.path.exists(lockfile), (evs, e.pending()))
        fh.close()
        e.run("--version", env=srv.env())
        evs = [ev for r in srv.requests() for ev in json.loads(r["body"])["batch"]]
        started = [ev for ev in evs if ev["event"] == "viewer_started"]
        check(len(started) == 1 and started[0]["timestamp"] == "2026-01-01T00:00:00Z" and
              started[0]["properties"]["session_id"] == "11111111-2222-4333-8444-555555555555", started)
        check(not os.path.exists(lockfile), "not deleted after sending")
        check(os.path.exists(original) and not [ev for ev in evs if ev["event"] == "original_event"],
              "sent or deleted the original implementation's pending file")
    finally:
        srv.stop()


@test
def pending_bound(e):
    first_run(e)
    big = '{"time_utc":"2026-01-01T00:00:00Z","kind":"Append","name":"x","props":{"p":{"String":"%s"}}}\n' % ("a" * 1000)
    for i in range(6):
        path = os.path.join(e.data, "0000000%d-2222-4333-8444-555555555555" % i + SUFFIX)
        with open(path, "w") as f:
            f.write(big * 1000)  # ~1 MB each
        os.utime(path, (1000 + i, 1000 + i))
    e.run("--version")
    total = sum(os.path.getsize(os.path.join(e.data, f)) for f in e.pending())
    check(total <= 4 << 20, "pending not bounded: %d" % total)
    check(not os.path.exists(os.path.join(e.data, "00000000-2222-4333-8444-555555555555" + SUFFIX)), "oldest kept")
    check(os.path.exists(os.path.join(e.data, "00000005-2222-4333-8444-555555555555" + SUFFIX)), "newest dropped")


def main():
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="rr-analytics-") as root:
        for i, t in enumerate(TESTS):
            tmp = os.path.join(root, "%02d-%s" % (i, t.__name__))
            os.makedirs(tmp)
            try:
                t(Env(tmp))
                passed += 1
                print("ok   %s" % t.__name__)
            except Exception as ex:  # noqa: BLE001 - report and continue
                failed += 1
                print("FAIL %s: %s" % (t.__name__, ex))
        leaks = [(d, b) for b in ALL_BODIES for d in USER_DATA if d in b]
        if not ALL_BODIES or leaks:
            failed += 1
            print("FAIL user data in payloads: %s (bodies: %d)" % (leaks[:3], len(ALL_BODIES)))
        else:
            passed += 1
            print("ok   no user data in %d captured payloads" % len(ALL_BODIES))
    print("analytics: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
