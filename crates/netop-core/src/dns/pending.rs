//! Queries waiting for their answer, and application queries to a local
//! stub resolver waiting for the stub's own upstream query.
//!
//! A response matches a query by (client address and port, server address
//! and port, id) and then by question, so two clients that happen to pick
//! the same id, or one socket asking two questions under one id, stay
//! apart. Both tables are capped; the caller decides what a full table
//! means for the log.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::socket::ProcessInfo;

/// A question compared case-insensitively: (name, type, class).
pub(super) type QuestionKey = (String, u16, u16);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct PendingKey {
    pub(super) client: SocketAddr,
    pub(super) server: SocketAddr,
    pub(super) id: u16,
}

#[derive(Debug, Clone)]
pub(super) struct Pending {
    /// The query's log entry.
    pub(super) seq: u64,
    pub(super) question: QuestionKey,
    pub(super) sent: Duration,
    pub(super) ifindex: u32,
    /// The server's address, for its statistics.
    pub(super) server: IpAddr,
}

#[derive(Debug, Clone)]
pub(super) struct PendingTable {
    /// Usually one query per key; a few when one socket reuses an id.
    by_key: FxHashMap<PendingKey, Vec<Pending>>,
    len: usize,
    capacity: usize,
}

impl PendingTable {
    pub(super) fn new(capacity: usize) -> Self {
        PendingTable {
            by_key: FxHashMap::default(),
            len: 0,
            capacity: capacity.max(1),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_full(&self) -> bool {
        self.len >= self.capacity
    }

    /// The waiting query with this key and question (a retransmission of
    /// it is the same query).
    pub(super) fn find(&self, key: &PendingKey, question: &QuestionKey) -> Option<&Pending> {
        self.by_key
            .get(key)?
            .iter()
            .find(|p| &p.question == question)
    }

    /// Adds a query; false (and nothing added) when the table is full.
    pub(super) fn insert(&mut self, key: PendingKey, pending: Pending) -> bool {
        if self.is_full() {
            return false;
        }
        self.by_key.entry(key).or_default().push(pending);
        self.len += 1;
        true
    }

    /// Removes and returns the query a response answers: same key and
    /// question, or, for a response without a question (some servers'
    /// errors), the oldest query under the key.
    pub(super) fn take(
        &mut self,
        key: &PendingKey,
        question: Option<&QuestionKey>,
    ) -> Option<Pending> {
        let list = self.by_key.get_mut(key)?;
        let at = match question {
            Some(q) => list.iter().position(|p| &p.question == q)?,
            None => 0,
        };
        let pending = list.remove(at);
        if list.is_empty() {
            self.by_key.remove(key);
        }
        self.len -= 1;
        Some(pending)
    }

    /// Removes the queries sent before `cutoff` and hands each to `each`.
    pub(super) fn expire(&mut self, cutoff: Duration, each: &mut dyn FnMut(Pending)) {
        let mut removed = 0;
        self.by_key.retain(|_, list| {
            list.retain(|p| {
                if p.sent < cutoff {
                    removed += 1;
                    each(p.clone());
                    false
                } else {
                    true
                }
            });
            !list.is_empty()
        });
        self.len -= removed;
    }
}

/// An application's query to a local resolver, not yet linked to the
/// resolver's upstream query.
#[derive(Debug, Clone)]
pub(super) struct Downstream {
    pub(super) seq: u64,
    pub(super) sent: Duration,
    pub(super) client: SocketAddr,
    pub(super) client_pid: Option<u32>,
    /// The process owning the stub's listening socket, if known.
    pub(super) stub: Option<ProcessInfo>,
}

/// The upstream query being matched.
#[derive(Debug, Clone, Copy)]
pub(super) struct Upstream {
    pub(super) sent: Duration,
    pub(super) client: SocketAddr,
    pub(super) pid: Option<u32>,
}

#[derive(Debug, Clone)]
pub(super) struct Downstreams {
    by_question: FxHashMap<QuestionKey, Vec<Downstream>>,
    len: usize,
    capacity: usize,
}

impl Downstreams {
    pub(super) fn new(capacity: usize) -> Self {
        Downstreams {
            by_question: FxHashMap::default(),
            len: 0,
            capacity: capacity.max(1),
        }
    }

    /// Remembers a query to a local resolver (dropped when full).
    pub(super) fn add(&mut self, question: QuestionKey, d: Downstream) {
        if self.len >= self.capacity {
            return;
        }
        self.by_question.entry(question).or_default().push(d);
        self.len += 1;
    }

    /// The oldest waiting application query this upstream query can have
    /// been made for: same question, sent before it within `window`, by
    /// another socket and process, and, when both are known, the upstream
    /// query's process owns the stub's socket. It is removed.
    pub(super) fn take_match(
        &mut self,
        question: &QuestionKey,
        up: Upstream,
        window: Duration,
    ) -> Option<Downstream> {
        let list = self.by_question.get_mut(question)?;
        let at = list.iter().position(|d| {
            d.sent <= up.sent
                && up.sent - d.sent <= window
                && d.client != up.client
                && !matches!((d.client_pid, up.pid), (Some(a), Some(b)) if a == b)
                && !matches!((d.stub.as_ref().map(|s| s.pid), up.pid), (Some(a), Some(b)) if a != b)
        })?;
        let d = list.remove(at);
        if list.is_empty() {
            self.by_question.remove(question);
        }
        self.len -= 1;
        Some(d)
    }

    /// The owners of a waiting query's sockets, found after it was seen
    /// (the engine searches owners between capture batches): the
    /// application's (`client_pid`) or the stub's listening socket's.
    pub(super) fn owners_found(
        &mut self,
        client: SocketAddr,
        client_pid: Option<u32>,
        stub: Option<&ProcessInfo>,
    ) {
        for d in self.by_question.values_mut().flatten() {
            if d.client != client {
                continue;
            }
            if d.client_pid.is_none() {
                d.client_pid = client_pid;
            }
            if d.stub.is_none() {
                d.stub = stub.cloned();
            }
        }
    }

    /// Forgets the entry of query `seq` (it was answered or timed out).
    pub(super) fn remove(&mut self, question: &QuestionKey, seq: u64) {
        if let Some(list) = self.by_question.get_mut(question) {
            let before = list.len();
            list.retain(|d| d.seq != seq);
            self.len -= before - list.len();
            if list.is_empty() {
                self.by_question.remove(question);
            }
        }
    }

    /// Forgets entries sent before `cutoff`.
    pub(super) fn expire(&mut self, cutoff: Duration) {
        let mut removed = 0;
        self.by_question.retain(|_, list| {
            let before = list.len();
            list.retain(|d| d.sent >= cutoff);
            removed += before - list.len();
            !list.is_empty()
        });
        self.len -= removed;
    }
}
