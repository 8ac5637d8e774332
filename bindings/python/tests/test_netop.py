"""The Python API of netop: bad input (no privileges needed), and, as
root, an end-to-end run: a trafficgen client with known traffic on a test
host's veth, watched through netop.Monitor, must be counted within 2 % of
the veth's kernel counters; get_pid_by_port must find a listening socket.

Run by `cargo xtask test` (see README, "Python"). Not root: the root tests
skip, or fail when CI is set. NETOP_TRAFFICGEN names the trafficgen binary
(target/debug/trafficgen, which xtask builds).
"""

import os
import socket
import subprocess
import sys
import time

import pytest

import netop
from netop import Monitor, NetworkTraffic, P_TCP, P_UDP

IN_CI = bool(os.environ.get("CI"))
NS = "netop-t-py"
HOST_IF = "netop-t-pyh"
NS_IF = "netop-t-pyn"
HOST_ADDR, NS_ADDR = "10.231.74.1", "10.231.74.2"
HOST_MAC, NS_MAC = "02:6e:74:4a:00:01", "02:6e:74:4a:00:02"
SERVER_PORT, CLIENT_PORT = 5401, 47401


def needs(condition, why):
    """Skips, or fails under CI, when condition is false."""
    if not condition:
        if IN_CI:
            pytest.fail(f"{why}; CI is set, so this is a failure, not a skip")
        pytest.skip(why)


@pytest.fixture
def root():
    needs(os.geteuid() == 0, "needs root")


def test_constants_and_names():
    assert (P_TCP, P_UDP) == (6, 17)
    assert (Monitor.P_TCP, Monitor.P_UDP) == (6, 17)
    assert netop.__version__
    assert any(i["name"] == "lo" for i in Monitor.interfaces())


def test_bad_input_is_an_exception_not_a_crash():
    m = Monitor()
    with pytest.raises(ValueError):
        m.add_pid(-1)
    with pytest.raises(ValueError):
        m.add_pid(0)
    with pytest.raises(ValueError):
        m.get_count_by_pid(-5)
    with pytest.raises(KeyError):
        m.get_count_by_pid(4242)  # not watched
    with pytest.raises(KeyError):
        m.remove_pid(4242)
    m.add_pid(4242)
    assert m.get_pids() == [4242]
    with pytest.raises(RuntimeError):
        m.get_count_by_pid(4242)  # before start()
    with pytest.raises(RuntimeError):
        m.get_pid_by_port(P_TCP, 80)
    with pytest.raises(RuntimeError):
        m.get_ports()
    with pytest.raises(RuntimeError):
        m.report()
    with pytest.raises(ValueError):
        m.add_address("not-an-address")
    m.add_address("::1")  # IPv6 is an address like any other
    m.add_address("127.0.0.1")
    assert m.get_addresses() == ["::1", "127.0.0.1"]
    m.remove_address("::1")
    with pytest.raises(KeyError):
        m.remove_address("::1")
    m.clear_pids()
    assert m.get_pids() == []
    assert not m.running
    m.stop()  # stopping what never started does nothing
    with pytest.raises(ValueError):
        Monitor(interval=0)
    with pytest.raises(ValueError):
        Monitor(interval=3600)
    with pytest.raises(ValueError):
        Monitor(interfaces="")


def test_bad_protocol_and_port(root):
    with Monitor(interfaces="lo", events=False) as m:
        m.start()
        with pytest.raises(ValueError):
            m.get_pid_by_port(99, 80)
        with pytest.raises(ValueError):
            m.get_pid_by_port(P_TCP, 70000)
        with pytest.raises(RuntimeError):
            m.start()
        with pytest.raises(RuntimeError):
            m.add_address("127.0.0.1")  # takes effect at start only


def test_unknown_interface_lists_the_real_ones(root):
    with pytest.raises(ValueError) as e:
        Monitor(interfaces="netop-t-nope").start()
    assert "netop-t-nope" in str(e.value) and "lo" in str(e.value)


def test_an_address_no_interface_has(root):
    m = Monitor()
    m.add_address("203.0.113.77")
    with pytest.raises(ValueError) as e:
        m.start()
    assert "203.0.113.77" in str(e.value) and "127.0.0.1" in str(e.value)


def test_missing_privileges_raise_permission_error_with_the_fix(root):
    # A forked child that gives up root (the module is loaded already, so
    # it reads no file it may not) tells what start() raised.
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            try:
                Monitor(interfaces="lo").start()
                message = "started without privileges"
            except PermissionError as e:
                message = f"PermissionError: {e}"
            except BaseException as e:  # noqa: BLE001 - reported to the parent
                message = f"{type(e).__name__}: {e}"
            os.write(write, message.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        message = f.read()
    os.waitpid(pid, 0)
    assert message.startswith("PermissionError:"), message
    assert "setcap" in message and "root" in message, message


def ip(*args, ns=None):
    cmd = ["ip", "netns", "exec", ns, "ip", *args] if ns else ["ip", *args]
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def remove_test_host():
    subprocess.run(["ip", "link", "del", HOST_IF], capture_output=True)
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)


@pytest.fixture
def test_host(root):
    """A network namespace joined by a veth pair: static neighbours and no
    IPv6, so the veth carries the workload's packets only."""
    remove_test_host()
    try:
        ip("netns", "add", NS)
        ip("link", "add", HOST_IF, "address", HOST_MAC, "type", "veth",
           "peer", "name", NS_IF, "address", NS_MAC, "netns", NS)
        for path in (f"/proc/sys/net/ipv6/conf/{HOST_IF}/disable_ipv6",):
            with open(path, "w") as f:
                f.write("1")
        subprocess.run(["ip", "netns", "exec", NS, "sh", "-c",
                        f"echo 1 > /proc/sys/net/ipv6/conf/{NS_IF}/disable_ipv6"],
                       capture_output=True)
        ip("addr", "add", f"{HOST_ADDR}/24", "dev", HOST_IF)
        ip("neigh", "replace", NS_ADDR, "lladdr", NS_MAC, "dev", HOST_IF, "nud", "permanent")
        ip("link", "set", HOST_IF, "up")
        ip("addr", "add", f"{NS_ADDR}/24", "dev", NS_IF, ns=NS)
        ip("neigh", "replace", HOST_ADDR, "lladdr", HOST_MAC, "dev", NS_IF, "nud", "permanent", ns=NS)
        ip("link", "set", NS_IF, "up", ns=NS)
        ip("link", "set", "lo", "up", ns=NS)
        deadline = time.monotonic() + 5
        while open(f"/sys/class/net/{HOST_IF}/operstate").read().strip() != "up":
            assert time.monotonic() < deadline, f"{HOST_IF} never came up"
            time.sleep(0.01)
        yield
    finally:
        remove_test_host()


class Proc:
    """A trafficgen process: `ready`, then `go` on stdin, then `done`."""

    def __init__(self, args):
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.pid = self.p.pid

    def expect(self, prefix, seconds=10):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            line = self.p.stdout.readline()
            if not line:
                break
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no {prefix!r} line from {self.p.args}: {self.p.stderr.read()}")

    def go(self):
        self.p.stdin.write("go\n")
        self.p.stdin.flush()

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


def counters(iface):
    base = f"/sys/class/net/{iface}/statistics/"
    return {k: int(open(base + k).read()) for k in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets")}


def wait_quiet(iface, quiet=0.15, limit=5.0):
    deadline = time.monotonic() + limit
    last, since = counters(iface), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.02)
        now = counters(iface)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
    raise AssertionError(f"{iface} never went quiet")


def close(truth, measured, slack):
    return abs(truth - measured) <= truth * 0.02 + slack


def test_end_to_end_a_watched_client_is_counted_within_2_percent(test_host):
    trafficgen = os.environ.get("NETOP_TRAFFICGEN", "")
    needs(os.access(trafficgen, os.X_OK), "NETOP_TRAFFICGEN names no trafficgen binary")
    to = f"{NS_ADDR}:{SERVER_PORT}"
    procs = []
    try:
        sink = Proc(["ip", "netns", "exec", NS, trafficgen, "sink", "--listen", to,
                     "--seconds", "20", "--conns", "1"])
        procs.append(sink)
        sink.expect("ready")
        client = Proc([trafficgen, "stream", "--to", to, "--bind-port", str(CLIENT_PORT),
                       "--rate", "2000000", "--seconds", "2"])
        procs.append(client)
        client.expect("ready")

        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with Monitor(interval=0.25) as m:
            m.add_pid(client.pid)
            m.start()
            assert m.running
            assert m.get_pid_by_port(P_TCP, port) == os.getpid()
            assert port in m.get_ports_by_pid(os.getpid())
            assert m.get_pid_by_port(P_UDP, port) is None

            before = counters(HOST_IF)
            client.go()
            client.expect("done", 40)
            sink.expect("done", 10)
            wait_quiet(HOST_IF)
            truth = {k: v - before[k] for k, v in counters(HOST_IF).items()}
            # Two more refreshes: the last packets' owners are found.
            assert m.report(timeout=5) is not None
            assert m.report(timeout=5) is not None

            counts = m.get_count_by_pid(client.pid)
            assert all(isinstance(c, NetworkTraffic) and c.pid == client.pid for c in counts)
            print("truth", truth)
            print("netop", counts)
            veth = [c for c in counts if c.interface == HOST_IF]
            assert len(veth) == 1, counts
            v = veth[0]
            assert close(truth["rx_bytes"], v.recv, 200), (truth, v)
            assert close(truth["tx_bytes"], v.send, 200), (truth, v)
            assert close(truth["rx_packets"], v.recv_packets, 2), (truth, v)
            assert close(truth["tx_packets"], v.send_packets, 2), (truth, v)
            assert v.send > 3_900_000  # the client sent 4 MB
            others = [c for c in counts if c.interface != HOST_IF]
            assert all(c.recv + c.send <= 200 for c in others), others

            report = m.report()
            row = [p for p in report["processes"] if p["pid"] == client.pid]
            assert row and row[0]["name"] == "trafficgen", report["processes"]
            assert sum(i["send"] for i in row[0]["interfaces"]) == row[0]["send"]
            assert isinstance(report["unknown"], list) and isinstance(report["dns"], list)
            assert m.get_ports() == [CLIENT_PORT] or m.get_ports() == []  # closed by now
            m.remove_pid(client.pid)
            with pytest.raises(KeyError):
                m.get_count_by_pid(client.pid)
        assert not m.running
        listener.close()
    finally:
        for p in procs:
            p.kill()
