"""Python's multiprocessing as a peer column of the multiproc benchmark.

Driven by benchmark/run.mjs over stdin/stdout, one JSON object per line:
  in:  {"case": "small", "n": N}     1 producer process -> this process, N dicts {id, name} (Queue)
       {"case": "pingpong", "n": N}  N round trips of one dict through two Queue(1)s
       {"case": "lock", "n": N}      N x Lock acquire/release in this process, uncontended
       {"case": "counter", "n": N}   2 processes each do N x (with v.get_lock(): v.value += 1)
       {"case": "event", "n": N}     N round trips through two Events (set / wait / clear)
       {"case": "semaphore", "n": N} N round trips through two Semaphore(0)s
       {"case": "pipe", "n": N}      1 process -> this one, N dicts through Pipe(False)
       {"case": "pipe1m", "n": N}    the same with N x 1 MiB send_bytes / recv_bytes
       {"case": "startup", "n": N}   N x (Process(target=set an Event).start(), wait for it)
  out: {"seconds": S}                 the timed part of that run only
The helper processes are started once per case (the first time it is asked
for) and reused, so process start-up is never timed, as on the Node side.
Timing: the producer reads time.monotonic_ns() (CLOCK_MONOTONIC, shared by
all processes) just before its first put; the consumer reads it after its
last get.
"""
import json
import multiprocessing as mp
import platform
import sys
import time

NAME = "alpha-widget"


def producer(ctl, q, back):
    while True:
        n = ctl.get()
        if n is None:
            return
        t0 = time.monotonic_ns()
        for i in range(n):
            q.put({"id": i, "name": NAME})
        back.put(t0)


def echo(ctl, ping, pong):
    while True:
        n = ctl.get()
        if n is None:
            return
        for _ in range(n):
            pong.put(ping.get())


class Small:
    def __init__(self):
        self.ctl, self.q, self.back = mp.Queue(), mp.Queue(), mp.Queue()
        self.p = mp.Process(target=producer, args=(self.ctl, self.q, self.back), daemon=True)
        self.p.start()

    def run(self, n):
        q = self.q
        self.ctl.put(n)
        for i in range(n):
            x = q.get()
            if x["id"] != i:
                raise RuntimeError(f"expected item {i}, got {x['id']}")
        t1 = time.monotonic_ns()
        return (t1 - self.back.get()) / 1e9

    def stop(self):
        self.ctl.put(None)
        self.p.join()


class PingPong:
    def __init__(self):
        self.ctl, self.ping, self.pong = mp.Queue(), mp.Queue(1), mp.Queue(1)
        self.p = mp.Process(target=echo, args=(self.ctl, self.ping, self.pong), daemon=True)
        self.p.start()

    def run(self, n):
        ping, pong = self.ping, self.pong
        # One untimed round trip first: the echo process is then in its loop.
        self.ctl.put(n + 1)
        ping.put({"id": -1, "name": NAME})
        pong.get()
        t0 = time.monotonic_ns()
        for i in range(n):
            ping.put({"id": i, "name": NAME})
            x = pong.get()
            if x["id"] != i:
                raise RuntimeError(f"expected item {i}, got {x['id']}")
        return (time.monotonic_ns() - t0) / 1e9

    def stop(self):
        self.ctl.put(None)
        self.p.join()


def pipe_producer(ctl, w, back, size):
    buf = bytearray(size) if size else None
    while True:
        n = ctl.get()
        if n is None:
            return
        t0 = time.monotonic_ns()
        if buf is None:
            for i in range(n):
                w.send({"id": i, "name": NAME})
        else:
            for i in range(n):
                buf[0:4] = i.to_bytes(4, "little")
                w.send_bytes(buf)
        back.put(t0)


class PipeCase:
    """1 -> 1 through Pipe(duplex=False): dicts (size 0) or raw bytes of `size`."""

    def __init__(self, size):
        self.size = size
        self.ctl, self.back = mp.Queue(), mp.Queue()
        self.r, w = mp.Pipe(duplex=False)
        self.p = mp.Process(target=pipe_producer, args=(self.ctl, w, self.back, size), daemon=True)
        self.p.start()
        w.close()

    def run(self, n):
        r, size = self.r, self.size
        self.ctl.put(n)
        for i in range(n):
            if size:
                b = r.recv_bytes()
                got = int.from_bytes(b[0:4], "little")
                if len(b) != size:
                    raise RuntimeError(f"item {i} has {len(b)} bytes")
            else:
                got = r.recv()["id"]
            if got != i:
                raise RuntimeError(f"expected item {i}, got {got}")
        t1 = time.monotonic_ns()
        return (t1 - self.back.get()) / 1e9

    def stop(self):
        self.ctl.put(None)
        self.p.join()


class LockCase:
    def __init__(self):
        self.lock = mp.Lock()

    def run(self, n):
        acquire, release = self.lock.acquire, self.lock.release
        t0 = time.monotonic_ns()
        for _ in range(n):
            acquire()
            release()
        return (time.monotonic_ns() - t0) / 1e9

    def stop(self):
        pass


def incrementer(ctl, v, back):
    lock = v.get_lock()
    while True:
        n = ctl.get()
        if n is None:
            return
        t0 = time.monotonic_ns()
        for _ in range(n):
            with lock:
                v.value += 1
        back.put((t0, time.monotonic_ns()))


class Counter:
    def __init__(self):
        self.ctl, self.back = mp.Queue(), mp.Queue()
        self.v = mp.Value("i", 0)
        self.ps = [mp.Process(target=incrementer, args=(self.ctl, self.v, self.back), daemon=True) for _ in range(2)]
        for p in self.ps:
            p.start()

    def run(self, n):
        self.v.value = 0
        for _ in self.ps:
            self.ctl.put(n)
        ts = [self.back.get() for _ in self.ps]
        if self.v.value != 2 * n:
            raise RuntimeError(f"counter is {self.v.value}, expected {2 * n}")
        return (max(t[1] for t in ts) - min(t[0] for t in ts)) / 1e9

    def stop(self):
        for _ in self.ps:
            self.ctl.put(None)
        for p in self.ps:
            p.join()


def event_echo(ctl, a, b):
    while True:
        n = ctl.get()
        if n is None:
            return
        for _ in range(n):
            a.wait()
            a.clear()
            b.set()


def sem_echo(ctl, a, b):
    while True:
        n = ctl.get()
        if n is None:
            return
        for _ in range(n):
            a.acquire()
            b.release()


class SignalPingPong:
    """Two Events (set / wait / clear) or two Semaphore(0)s (release / acquire)."""

    def __init__(self, event):
        self.event = event
        self.ctl = mp.Queue()
        self.a, self.b = (mp.Event(), mp.Event()) if event else (mp.Semaphore(0), mp.Semaphore(0))
        self.p = mp.Process(target=event_echo if event else sem_echo, args=(self.ctl, self.a, self.b), daemon=True)
        self.p.start()

    def run(self, n):
        a, b = self.a, self.b
        if self.event:
            def trip():
                a.set()
                b.wait()
                b.clear()
        else:
            def trip():
                a.release()
                b.acquire()
        self.ctl.put(n + 1)
        trip()
        t0 = time.monotonic_ns()
        for _ in range(n):
            trip()
        return (time.monotonic_ns() - t0) / 1e9

    def stop(self):
        self.ctl.put(None)
        self.p.join()


def started(ev):
    ev.set()


class Startup:
    def __init__(self):
        self.ev = mp.Event()

    def run(self, n):
        total = 0
        for _ in range(n):
            p = mp.Process(target=started, args=(self.ev,))
            t0 = time.monotonic_ns()
            p.start()
            self.ev.wait()
            total += time.monotonic_ns() - t0
            p.join()
            if p.exitcode != 0:
                raise RuntimeError(f"exit code {p.exitcode}")
            self.ev.clear()
        return total / 1e9

    def stop(self):
        pass


CASES = {
    "small": Small,
    "pingpong": PingPong,
    "lock": LockCase,
    "counter": Counter,
    "event": lambda: SignalPingPong(True),
    "semaphore": lambda: SignalPingPong(False),
    "pipe": lambda: PipeCase(0),
    "pipe1m": lambda: PipeCase(1 << 20),
    "startup": Startup,
}


def main():
    cases = {}
    out = sys.stdout
    out.write(json.dumps({"ready": True, "python": platform.python_version(),
                          "start_method": mp.get_start_method()}) + "\n")
    out.flush()
    for line in sys.stdin:
        cmd = json.loads(line)
        name = cmd["case"]
        if name not in cases:
            cases[name] = CASES[name]()
        out.write(json.dumps({"seconds": cases[name].run(cmd["n"])}) + "\n")
        out.flush()
    for c in cases.values():
        c.stop()


if __name__ == "__main__":
    main()
