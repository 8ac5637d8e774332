//! `netop` for Python: a thin layer over `netop_lib::Monitor` with
//! netprocmon's vocabulary (`add_pid`, `get_count_by_pid`, ...), a
//! context manager and `report()`. Options that shape the capture
//! (interfaces, addresses) are kept until `start()`, which builds the Rust
//! monitor; every call that waits (start, stop, report with a timeout)
//! releases the GIL. Errors become the Python exception that fits:
//! `PermissionError` (with the fix), `KeyError` (a pid not watched),
//! `ValueError` (bad input), `RuntimeError` (not started).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use netop_lib::{Error, Monitor, Options, Proto, Report, Traffic};
use pyo3::exceptions::{PyKeyError, PyOSError, PyPermissionError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// TCP's IP protocol number.
const P_TCP: i64 = 6;
/// UDP's IP protocol number.
const P_UDP: i64 = 17;

fn py_err(e: Error) -> PyErr {
    let text = e.to_string();
    match e {
        Error::PermissionDenied { .. } => PyPermissionError::new_err(text),
        Error::NotWatched { pid } => PyKeyError::new_err(pid),
        Error::NoSuchInterface { .. }
        | Error::NoSuchAddress { .. }
        | Error::InvalidPid
        | Error::InvalidOption(_) => PyValueError::new_err(text),
        Error::NotStarted | Error::AlreadyStarted => PyRuntimeError::new_err(text),
        _ => PyOSError::new_err(text),
    }
}

fn pid_of(pid: i64) -> PyResult<u32> {
    match u32::try_from(pid) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(PyValueError::new_err(format!(
            "pid must be a positive integer, not {pid}"
        ))),
    }
}

fn proto_of(proto: i64) -> PyResult<Proto> {
    Proto::from_number(proto).ok_or_else(|| {
        PyValueError::new_err(format!(
            "protocol must be P_TCP ({P_TCP}) or P_UDP ({P_UDP}), not {proto}"
        ))
    })
}

fn port_of(port: i64) -> PyResult<u16> {
    u16::try_from(port)
        .map_err(|_| PyValueError::new_err(format!("port must be 0 to 65535, not {port}")))
}

/// One process's traffic on one interface, in bytes and packets.
#[pyclass(module = "netop", frozen, eq, get_all)]
#[derive(Debug, Clone, PartialEq, Eq)]
struct NetworkTraffic {
    interface: String,
    recv: u64,
    send: u64,
    pid: u32,
    recv_packets: u64,
    send_packets: u64,
}

#[pymethods]
impl NetworkTraffic {
    fn __repr__(&self) -> String {
        format!(
            "NetworkTraffic(interface={}, recv={}, send={}, pid={}, recv_packets={}, send_packets={})",
            self.interface, self.recv, self.send, self.pid, self.recv_packets, self.send_packets
        )
    }

    fn __str__(&self) -> String {
        self.__repr__()
    }
}

impl NetworkTraffic {
    fn of(pid: u32, t: &Traffic) -> Self {
        NetworkTraffic {
            interface: t.interface.clone(),
            recv: t.rx_bytes,
            send: t.tx_bytes,
            pid,
            recv_packets: t.rx_packets,
            send_packets: t.tx_packets,
        }
    }
}

/// What shapes the capture, kept until `start()`.
#[derive(Debug, Clone)]
struct Setup {
    interfaces: Vec<String>,
    addresses: Vec<IpAddr>,
    events: bool,
    kernel: bool,
    dns: bool,
    interval: Duration,
    pids: BTreeSet<u32>,
}

#[derive(Debug)]
struct Inner {
    setup: Setup,
    /// Built by a successful `start()`.
    running: Option<Arc<Monitor>>,
}

/// Counts chosen processes' network traffic per interface.
#[pyclass(module = "netop", name = "Monitor")]
#[derive(Debug)]
struct PyMonitor {
    inner: Mutex<Inner>,
}

impl PyMonitor {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn started(&self) -> PyResult<Arc<Monitor>> {
        self.lock()
            .running
            .clone()
            .ok_or_else(|| py_err(Error::NotStarted))
    }

    fn refuse_after_start(&self, what: &str) -> PyResult<MutexGuard<'_, Inner>> {
        let inner = self.lock();
        if inner.running.is_some() {
            return Err(PyRuntimeError::new_err(format!(
                "{what} takes effect at start(); the monitor is already started"
            )));
        }
        Ok(inner)
    }
}

fn traffic_dict<'py>(py: Python<'py>, t: &Traffic) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("interface", &t.interface)?;
    d.set_item("recv", t.rx_bytes)?;
    d.set_item("send", t.tx_bytes)?;
    d.set_item("recv_packets", t.rx_packets)?;
    d.set_item("send_packets", t.tx_packets)?;
    Ok(d)
}

fn report_dict<'py>(py: Python<'py>, r: &Report) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("seq", r.seq)?;
    d.set_item("elapsed", r.elapsed.as_secs_f64())?;
    let processes = PyList::empty(py);
    for p in &r.processes {
        let pd = PyDict::new(py);
        pd.set_item("pid", p.pid)?;
        pd.set_item("name", &p.name)?;
        pd.set_item("user", &p.user)?;
        pd.set_item("recv", p.traffic.iter().map(|t| t.rx_bytes).sum::<u64>())?;
        pd.set_item("send", p.traffic.iter().map(|t| t.tx_bytes).sum::<u64>())?;
        let list = PyList::empty(py);
        for t in &p.traffic {
            list.append(traffic_dict(py, t)?)?;
        }
        pd.set_item("interfaces", list)?;
        processes.append(pd)?;
    }
    d.set_item("processes", processes)?;
    let unknown = PyList::empty(py);
    for u in &r.unknown {
        let ud = PyDict::new(py);
        ud.set_item("reason", &u.reason)?;
        ud.set_item("recv", u.rx_bytes)?;
        ud.set_item("send", u.tx_bytes)?;
        ud.set_item("recv_packets", u.rx_packets)?;
        ud.set_item("send_packets", u.tx_packets)?;
        unknown.append(ud)?;
    }
    d.set_item("unknown", unknown)?;
    let dns = PyList::empty(py);
    for q in &r.dns {
        let qd = PyDict::new(py);
        qd.set_item("pid", q.pid)?;
        qd.set_item("process", &q.process)?;
        qd.set_item("name", &q.name)?;
        qd.set_item("qtype", &q.qtype)?;
        qd.set_item("status", &q.status)?;
        qd.set_item("response", &q.response)?;
        qd.set_item("latency", q.latency.map(|l| l.as_secs_f64()))?;
        qd.set_item("resolver", q.resolver.to_string())?;
        qd.set_item("client", q.client.to_string())?;
        dns.append(qd)?;
    }
    d.set_item("dns", dns)?;
    let interfaces = PyList::empty(py);
    for t in &r.interfaces {
        interfaces.append(traffic_dict(py, t)?)?;
    }
    d.set_item("interfaces", interfaces)?;
    Ok(d)
}

#[pymethods]
impl PyMonitor {
    #[classattr]
    const P_TCP: i64 = P_TCP;
    #[classattr]
    const P_UDP: i64 = P_UDP;

    #[new]
    #[pyo3(signature = (interfaces = None, addresses = None, events = true, dns = true, interval = 1.0, kernel = true))]
    fn new(
        interfaces: Option<Bound<'_, PyAny>>,
        addresses: Option<Vec<String>>,
        events: bool,
        dns: bool,
        interval: f64,
        kernel: bool,
    ) -> PyResult<Self> {
        let interfaces: Vec<String> = match interfaces {
            None => Vec::new(),
            Some(i) => match i.extract::<String>() {
                Ok(one) => vec![one],
                Err(_) => i.extract::<Vec<String>>()?,
            },
        };
        if !interval.is_finite() || interval <= 0.0 {
            return Err(PyValueError::new_err(format!(
                "interval must be a positive number of seconds, not {interval}"
            )));
        }
        let mut setup = Setup {
            interfaces,
            addresses: Vec::new(),
            events,
            kernel,
            dns,
            interval: Duration::from_secs_f64(interval),
            pids: BTreeSet::new(),
        };
        for a in addresses.unwrap_or_default() {
            setup.addresses.push(parse_address(&a)?);
        }
        // Checks the options now, so bad ones fail here, not at start().
        let _ = options(&setup).map_err(py_err)?;
        Ok(PyMonitor {
            inner: Mutex::new(Inner {
                setup,
                running: None,
            }),
        })
    }

    /// Watches `pid`: its bytes are counted from now (or from start()).
    fn add_pid(&self, pid: i64) -> PyResult<()> {
        let pid = pid_of(pid)?;
        let mut inner = self.lock();
        inner.setup.pids.insert(pid);
        match &inner.running {
            Some(m) => m.watch(pid).map_err(py_err),
            None => Ok(()),
        }
    }

    /// Stops watching `pid` and forgets its count; KeyError if not watched.
    fn remove_pid(&self, pid: i64) -> PyResult<()> {
        let pid = pid_of(pid)?;
        let mut inner = self.lock();
        if !inner.setup.pids.remove(&pid) {
            return Err(PyKeyError::new_err(pid));
        }
        match &inner.running {
            Some(m) => m.unwatch(pid).map_err(py_err),
            None => Ok(()),
        }
    }

    /// The watched pids.
    fn get_pids(&self) -> Vec<u32> {
        self.lock().setup.pids.iter().copied().collect()
    }

    /// Stops watching every pid.
    fn clear_pids(&self) {
        let mut inner = self.lock();
        inner.setup.pids.clear();
        if let Some(m) = &inner.running {
            m.unwatch_all();
        }
    }

    /// Counts only traffic on the interfaces holding `addr` (IPv4 or IPv6).
    fn add_address(&self, addr: &str) -> PyResult<()> {
        let addr = parse_address(addr)?;
        let mut inner = self.refuse_after_start("add_address")?;
        if !inner.setup.addresses.contains(&addr) {
            inner.setup.addresses.push(addr);
        }
        Ok(())
    }

    /// Removes a restriction added by add_address; KeyError if absent.
    fn remove_address(&self, addr: &str) -> PyResult<()> {
        let parsed = parse_address(addr)?;
        let mut inner = self.refuse_after_start("remove_address")?;
        let before = inner.setup.addresses.len();
        inner.setup.addresses.retain(|a| *a != parsed);
        if inner.setup.addresses.len() == before {
            return Err(PyKeyError::new_err(addr.to_string()));
        }
        Ok(())
    }

    /// Removes every address restriction.
    fn clear_addresses(&self) -> PyResult<()> {
        self.refuse_after_start("clear_addresses")?
            .setup
            .addresses
            .clear();
        Ok(())
    }

    /// The address restrictions.
    fn get_addresses(&self) -> Vec<String> {
        self.lock()
            .setup
            .addresses
            .iter()
            .map(IpAddr::to_string)
            .collect()
    }

    /// Opens the capture (root or cap_net_raw,cap_net_admin) and starts
    /// counting; the GIL is released while it opens.
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        let setup = {
            let inner = self.lock();
            if inner.running.is_some() {
                return Err(py_err(Error::AlreadyStarted));
            }
            inner.setup.clone()
        };
        let monitor = Arc::new(Monitor::new(options(&setup).map_err(py_err)?).map_err(py_err)?);
        for pid in &setup.pids {
            monitor.watch(*pid).map_err(py_err)?;
        }
        let opening = Arc::clone(&monitor);
        py.allow_threads(move || opening.start()).map_err(py_err)?;
        let mut inner = self.lock();
        // Pids added while it opened.
        for pid in inner.setup.pids.difference(&setup.pids) {
            monitor.watch(*pid).map_err(py_err)?;
        }
        inner.running = Some(monitor);
        Ok(())
    }

    /// Stops the capture; counts stay readable. The GIL is released.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let running = self.lock().running.clone();
        match running {
            Some(m) => py.allow_threads(move || m.stop()).map_err(py_err),
            None => Ok(()),
        }
    }

    /// Whether the capture runs.
    #[getter]
    fn running(&self) -> bool {
        self.lock().running.as_ref().is_some_and(|m| m.is_running())
    }

    /// The pid's traffic per interface since it was added (with its
    /// children's when `children` is true).
    #[pyo3(signature = (pid, children = false))]
    fn get_count_by_pid(&self, pid: i64, children: bool) -> PyResult<Vec<NetworkTraffic>> {
        let pid = pid_of(pid)?;
        let monitor = {
            let inner = self.lock();
            if !inner.setup.pids.contains(&pid) {
                return Err(PyKeyError::new_err(pid));
            }
            inner
                .running
                .clone()
                .ok_or_else(|| py_err(Error::NotStarted))?
        };
        let traffic = if children {
            monitor.traffic_with_children(pid)
        } else {
            monitor.traffic(pid)
        }
        .map_err(py_err)?;
        Ok(traffic.iter().map(|t| NetworkTraffic::of(pid, t)).collect())
    }

    /// The pid owning a socket on `port` (P_TCP or P_UDP), or None.
    fn get_pid_by_port(&self, proto: i64, port: i64) -> PyResult<Option<u32>> {
        let (proto, port) = (proto_of(proto)?, port_of(port)?);
        self.started()?.pid_by_port(proto, port).map_err(py_err)
    }

    /// The local ports of the pid's sockets (TCP and UDP).
    fn get_ports_by_pid(&self, pid: i64) -> PyResult<Vec<u16>> {
        let pid = pid_of(pid)?;
        let mut ports: Vec<u16> = self
            .started()?
            .ports_by_pid(pid)
            .map_err(py_err)?
            .into_iter()
            .map(|(_, port)| port)
            .collect();
        ports.sort_unstable();
        ports.dedup();
        Ok(ports)
    }

    /// The watched pids' local ports of one protocol.
    fn get_ports_by_proto(&self, proto: i64) -> PyResult<Vec<u16>> {
        let proto = proto_of(proto)?;
        self.started()?.ports(proto).map_err(py_err)
    }

    /// The watched pids' local ports, TCP and UDP.
    fn get_ports(&self) -> PyResult<Vec<u16>> {
        let monitor = self.started()?;
        let mut ports = monitor.ports(Proto::Tcp).map_err(py_err)?;
        ports.extend(monitor.ports(Proto::Udp).map_err(py_err)?);
        ports.sort_unstable();
        ports.dedup();
        Ok(ports)
    }

    /// The host's interfaces: dicts of name, index, up, addresses.
    #[staticmethod]
    fn interfaces(py: Python<'_>) -> PyResult<Vec<Bound<'_, PyDict>>> {
        let list = Monitor::interfaces().map_err(py_err)?;
        list.iter()
            .map(|i| {
                let d = PyDict::new(py);
                d.set_item("name", &i.name)?;
                d.set_item("index", i.index)?;
                d.set_item("up", i.up)?;
                let addrs: Vec<String> = i.addresses.iter().map(IpAddr::to_string).collect();
                d.set_item("addresses", addrs)?;
                Ok(d)
            })
            .collect()
    }

    /// The last interval's report as a dict (None before the first), or,
    /// with `timeout` (seconds), the next one, waiting without the GIL.
    #[pyo3(signature = (timeout = None))]
    fn report<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let monitor = self.started()?;
        let report = match timeout {
            None => monitor.report(),
            Some(t) if t.is_finite() && t >= 0.0 => {
                let mut reports = monitor.reports();
                let wait = Duration::from_secs_f64(t);
                py.allow_threads(move || reports.next_timeout(wait))
            }
            Some(t) => {
                return Err(PyValueError::new_err(format!(
                    "timeout must be a non-negative number of seconds, not {t}"
                )))
            }
        };
        report.map(|r| report_dict(py, &r)).transpose()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.stop(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let inner = self.lock();
        format!(
            "Monitor(pids={:?}, running={})",
            inner.setup.pids,
            inner.running.as_ref().is_some_and(|m| m.is_running())
        )
    }
}

fn parse_address(addr: &str) -> PyResult<IpAddr> {
    addr.trim()
        .parse()
        .map_err(|_| PyValueError::new_err(format!("not an IP address: {addr:?}")))
}

fn options(setup: &Setup) -> Result<Options, Error> {
    let mut o = Options::new()
        .events(setup.events)
        .kernel_counting(setup.kernel)
        .dns(setup.dns)
        .interval(setup.interval);
    for i in &setup.interfaces {
        o = o.interface(i.clone());
    }
    for a in &setup.addresses {
        o = o.address(*a);
    }
    o.validate()?;
    Ok(o)
}

/// netop's per-process traffic monitor.
#[pymodule]
fn netop(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMonitor>()?;
    m.add_class::<NetworkTraffic>()?;
    m.add("P_TCP", P_TCP)?;
    m.add("P_UDP", P_UDP)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
