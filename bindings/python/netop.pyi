"""netop: per-process network traffic, from netop's engine.

Type stubs of the native module (bindings/python/src/lib.rs).
"""

from types import TracebackType
from typing import Any, Dict, List, Optional, Sequence, Type, Union

__version__: str

P_TCP: int
"""TCP's IP protocol number (6)."""
P_UDP: int
"""UDP's IP protocol number (17)."""

class NetworkTraffic:
    """One process's traffic on one interface since it was watched."""

    interface: str
    recv: int
    """Bytes received (IP packet plus the interface's link header)."""
    send: int
    """Bytes sent."""
    pid: int
    recv_packets: int
    send_packets: int

class Monitor:
    """Counts chosen processes' network traffic per interface.

    ``start()`` needs root, or the capabilities cap_net_raw,cap_net_admin.
    """

    P_TCP: int
    P_UDP: int

    def __init__(
        self,
        interfaces: Union[None, str, Sequence[str]] = None,
        addresses: Optional[Sequence[str]] = None,
        events: bool = True,
        dns: bool = True,
        interval: float = 1.0,
        kernel: bool = True,
    ) -> None:
        """Interfaces to capture on (default: all), local addresses to
        restrict the counts to, the eBPF event source (else polling), the
        DNS log, the refresh interval in seconds (0.1 to 60), and whether
        to count in the kernel where permitted (eBPF on traffic control;
        else every packet through libpcap).
        Raises ValueError for values out of range."""
    def add_pid(self, pid: int) -> None:
        """Watch pid (ValueError unless positive)."""
    def remove_pid(self, pid: int) -> None:
        """Stop watching pid; KeyError if it was not watched."""
    def get_pids(self) -> List[int]: ...
    def clear_pids(self) -> None: ...
    def add_address(self, addr: str) -> None:
        """Count only traffic on the interfaces holding addr (IPv4 or
        IPv6); before start() only (RuntimeError after)."""
    def remove_address(self, addr: str) -> None: ...
    def clear_addresses(self) -> None: ...
    def get_addresses(self) -> List[str]: ...
    def start(self) -> None:
        """Open the capture and start counting (the GIL is released).
        PermissionError (with the fix) without privileges, ValueError
        for an unknown interface or address, RuntimeError if started."""
    def stop(self) -> None:
        """Stop the capture; counts stay readable."""
    @property
    def running(self) -> bool: ...
    def get_count_by_pid(self, pid: int, children: bool = False) -> List[NetworkTraffic]:
        """The pid's traffic per interface since it was added. KeyError if
        not watched, RuntimeError before start()."""
    def get_pid_by_port(self, proto: int, port: int) -> Optional[int]:
        """The process owning a socket on the local port (P_TCP or P_UDP)."""
    def get_ports_by_pid(self, pid: int) -> List[int]: ...
    def get_ports_by_proto(self, proto: int) -> List[int]:
        """The watched processes' local ports of one protocol."""
    def get_ports(self) -> List[int]:
        """The watched processes' local ports."""
    @staticmethod
    def interfaces() -> List[Dict[str, Any]]:
        """The host's interfaces: name, index, up, addresses."""
    def report(self, timeout: Optional[float] = None) -> Optional[Dict[str, Any]]:
        """The last interval's report (processes with their interfaces,
        unknown by reason, the DNS queries since the previous report,
        interfaces), or with timeout the next one (None on timeout)."""
    def __enter__(self) -> "Monitor": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...
