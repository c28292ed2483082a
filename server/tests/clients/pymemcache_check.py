"""Drives a memcached server through pymemcache, unchanged, and checks every answer.

Usage: pymemcache_check.py <port>. Prints "OK <n> checks" and exits 0 on success; any
failed check raises (non-zero exit with a traceback). The same script passes against
memcached 1.6.18, which is how the test proves it checks real memcached behaviour.
"""
import sys

from pymemcache.client.base import Client
from pymemcache.exceptions import (
    MemcacheClientError,
    MemcacheIllegalInputError,
    MemcacheServerError,
)

checks = 0


def check(got, want, what):
    global checks
    checks += 1
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def main(port):
    c = Client(("127.0.0.1", port), connect_timeout=5, timeout=10, default_noreply=False)
    c.flush_all()

    check(c.set("k1", b"v1"), True, "set")
    check(c.get("k1"), b"v1", "get")
    check(c.get("missing"), None, "get miss")
    check(c.set("k2", b"v2", expire=100, flags=7), True, "set flags")
    check(c.get_many(["k1", "k2", "missing"]), {"k1": b"v1", "k2": b"v2"}, "get_many")
    check(c.set_many({"m1": b"1", "m2": b"2"}), [], "set_many")
    check(c.get_many(["m1", "m2"]), {"m1": b"1", "m2": b"2"}, "get_many after set_many")

    check(c.add("k1", b"x"), False, "add existing")
    check(c.add("k3", b"v3"), True, "add new")
    check(c.replace("nope", b"x"), False, "replace missing")
    check(c.replace("k3", b"w3"), True, "replace")
    check(c.append("k3", b"-end"), True, "append")
    check(c.prepend("k3", b"start-"), True, "prepend")
    check(c.get("k3"), b"start-w3-end", "append/prepend result")
    check(c.append("nope", b"x"), False, "append missing")

    value, cas = c.gets("k1")
    check(value, b"v1", "gets value")
    check(c.cas("k1", b"v1b", cas), True, "cas match")
    check(c.cas("k1", b"v1c", cas), False, "cas stale")
    check(c.cas("nope", b"x", b"1"), None, "cas missing")
    check(c.get("k1"), b"v1b", "after cas")
    many = c.gets_many(["k1", "k2"])
    check(sorted(many), ["k1", "k2"], "gets_many keys")

    check(c.set("n", b"10"), True, "set number")
    check(c.incr("n", 5), 15, "incr")
    check(c.decr("n", 20), 0, "decr floors at 0")
    check(c.incr("missing", 1), None, "incr missing")
    check(c.set("big", b"18446744073709551615"), True, "set max u64")
    check(c.incr("big", 2), 1, "incr wraps")
    try:
        c.incr("k1", 1)
        raise AssertionError("incr on non-numeric value did not fail")
    except MemcacheClientError as e:
        check("non-numeric" in str(e), True, "incr non-numeric error text")

    check(c.touch("k2", 50), True, "touch hit")
    check(c.touch("missing", 50), False, "touch miss")
    # pymemcache has no gat helper; raw_command sends a line and reads to the end marker.
    check(c.raw_command("gat 100 k2", b"END\r\n"), b"VALUE k2 7 2\r\nv2\r\n", "gat")
    check(c.cache_memlimit(64), True, "cache_memlimit")

    check(c.delete("k2"), True, "delete")
    check(c.delete("k2"), False, "delete missing")
    check(c.delete_many(["m1", "m2"]), True, "delete_many")
    check(c.get_many(["m1", "m2"]), {}, "deleted keys gone")

    binary = bytes(range(256)) * 64
    check(c.set("bin", binary), True, "set binary")
    check(c.get("bin"), binary, "binary round trip")
    large = b"L" * (1024 * 1024 - 512)
    check(c.set("large", large), True, "set near-limit value")
    check(c.get("large"), large, "large round trip")
    try:
        c.set("toolarge", b"x" * (2 * 1024 * 1024))
        raise AssertionError("oversized value was accepted")
    except MemcacheServerError as e:
        check("too large" in str(e), True, "too large error text")
    check(c.get("k1"), b"v1b", "connection usable after a rejected value")
    try:
        c.set("bad key", b"x")
        raise AssertionError("key with a space was accepted")
    except MemcacheIllegalInputError:
        check(True, True, "client rejects bad key")

    c.set("nr", b"x", noreply=True)
    check(c.get("nr"), b"x", "noreply set then get")

    stats = c.stats()
    check(b"curr_items" in stats or "curr_items" in stats, True, "stats has curr_items")
    settings = c.stats("settings")
    check(int(settings.get(b"maxconns", settings.get("maxconns", 0))), 1024, "stats settings")
    check(c.version().startswith(b"1.6"), True, "version")
    check(c.flush_all(), True, "flush_all")
    check(c.get("k1"), None, "flushed")

    pipelined = Client(("127.0.0.1", port), default_noreply=True)
    for i in range(200):
        pipelined.set(f"p{i}", str(i).encode())
    # A round trip on the same connection: every noreply set before it has been applied.
    check(pipelined.get("p199"), b"199", "get after noreply sets")
    check(c.get_many([f"p{i}" for i in range(200)]),
          {f"p{i}": str(i).encode() for i in range(200)}, "200 noreply sets")
    pipelined.close()
    c.quit()
    print(f"OK {checks} checks")


if __name__ == "__main__":
    main(int(sys.argv[1]))
