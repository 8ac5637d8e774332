use super::*;
use crate::tracepoint::format;

const REAL: &str = include_str!("../../tests/fixtures/inet_sock_set_state.format");

fn layout() -> Layout {
    format::parse(REAL).expect("layout")
}

/// A raw record as the kernel of the fixture writes it (72 bytes).
fn raw(family: u16, old: i32, new: i32, sport: u16, dport: u16) -> Vec<u8> {
    let mut r = vec![0u8; 72];
    r[0..2].copy_from_slice(&2287u16.to_ne_bytes()); // common_type
    r[4..8].copy_from_slice(&4242i32.to_ne_bytes()); // common_pid
    r[8..16].copy_from_slice(&0xffff_8880_1234_5678u64.to_ne_bytes());
    r[16..20].copy_from_slice(&old.to_ne_bytes());
    r[20..24].copy_from_slice(&new.to_ne_bytes());
    r[24..26].copy_from_slice(&sport.to_ne_bytes());
    r[26..28].copy_from_slice(&dport.to_ne_bytes());
    r[28..30].copy_from_slice(&family.to_ne_bytes());
    r[30..32].copy_from_slice(&6u16.to_ne_bytes());
    r[32..36].copy_from_slice(&[10, 0, 0, 1]);
    r[36..40].copy_from_slice(&[10, 0, 0, 2]);
    r[40..56].copy_from_slice(&"fd00::1".parse::<Ipv6Addr>().expect("fixture").octets());
    r[56..72].copy_from_slice(&"fd00::2".parse::<Ipv6Addr>().expect("fixture").octets());
    r
}

/// A sample record's body: pid, tid, time, size, raw, padded to 8 bytes.
fn sample(pid: u32, raw: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&pid.to_ne_bytes());
    b.extend_from_slice(&(pid + 1).to_ne_bytes());
    b.extend_from_slice(&123_456_789u64.to_ne_bytes());
    b.extend_from_slice(&u32::try_from(raw.len()).expect("fixture").to_ne_bytes());
    b.extend_from_slice(raw);
    b.resize(b.len().next_multiple_of(8), 0);
    b
}

#[test]
fn an_ipv4_sample_gives_its_tuple_states_and_pid() {
    let body = sample(777, &raw(2, 2, 1, 40000, 5001));
    let got = decode(RECORD_SAMPLE, &body, &layout()).expect("decoded");
    assert_eq!(
        got,
        PerfRecord::Sample(StateChange {
            skaddr: 0xffff_8880_1234_5678,
            time: 123_456_789,
            oldstate: 2,
            newstate: 1,
            pid: 777,
            protocol: 6,
            local: "10.0.0.1:40000".parse().expect("fixture"),
            remote: "10.0.0.2:5001".parse().expect("fixture"),
        })
    );
}

#[test]
fn an_ipv6_sample_reads_the_v6_addresses() {
    let body = sample(9, &raw(10, 7, 2, 0, 443));
    let PerfRecord::Sample(change) = decode(RECORD_SAMPLE, &body, &layout()).expect("decoded")
    else {
        panic!("not a sample");
    };
    assert_eq!(change.local, "[fd00::1]:0".parse().expect("fixture"));
    assert_eq!(change.remote, "[fd00::2]:443".parse().expect("fixture"));
    assert_eq!((change.oldstate, change.newstate), (7, 2));
}

#[test]
fn short_and_foreign_samples_are_errors() {
    let l = layout();
    let full = raw(2, 2, 1, 1, 2);
    let cut = sample(1, &full[..40]);
    assert!(matches!(
        decode(RECORD_SAMPLE, &cut, &l),
        Err(RecordError::Short { .. })
    ));
    // A size field larger than the record.
    let mut lying = sample(1, &full);
    lying[16..20].copy_from_slice(&500u32.to_ne_bytes());
    assert!(decode(RECORD_SAMPLE, &lying, &l).is_err());
    assert!(decode(RECORD_SAMPLE, &[1, 2, 3], &l).is_err());
    let unix = sample(1, &raw(1, 2, 1, 1, 2));
    assert_eq!(
        decode(RECORD_SAMPLE, &unix, &l),
        Err(RecordError::Family(1))
    );
}

#[test]
fn comm_and_lost_records_are_read() {
    let l = layout();
    let mut comm = Vec::new();
    comm.extend_from_slice(&55u32.to_ne_bytes());
    comm.extend_from_slice(&56u32.to_ne_bytes());
    comm.extend_from_slice(b"trafficgen\0\0\0\0\0\0");
    assert_eq!(
        decode(RECORD_COMM, &comm, &l),
        Ok(PerfRecord::Comm {
            pid: 55,
            tid: 56,
            comm: "trafficgen".into()
        })
    );
    let mut lost = Vec::new();
    lost.extend_from_slice(&1u64.to_ne_bytes());
    lost.extend_from_slice(&17u64.to_ne_bytes());
    assert_eq!(decode(RECORD_LOST, &lost, &l), Ok(PerfRecord::Lost(17)));
    assert!(decode(RECORD_LOST, &lost[..8], &l).is_err());
    assert!(decode(RECORD_COMM, &comm[..6], &l).is_err());
    assert_eq!(decode(14, &[], &l), Ok(PerfRecord::Other(14)));
}
