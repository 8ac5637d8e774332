//! One DNS message, read with hickory-proto into the little the
//! observatory keeps: header bits, the first question, and the answer
//! records (owner name, type, TTL, data).
//!
//! Why not `Message::from_vec`: it reserves vectors by the header's
//! counts before reading them (a 12-byte packet can ask for 65,535
//! records), and it fails a whole message over one bad record at the
//! end. This reads the header, then record by record, at most
//! [`MAX_ANSWERS`] answers, and keeps what it could read from a message cut
//! short (snap length, a lost TCP segment).
//!
//! hickory-proto's name reader refuses forward and looping compression
//! pointers and names over 255 bytes, so nothing here loops or panics on
//! input; the fuzz test in `dns/tests_fuzz.rs` holds it to that.

use std::fmt;
use std::net::IpAddr;

use hickory_proto::op::{Header, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

/// Answer records read from one message, at most.
pub const MAX_ANSWERS: usize = 64;
/// Longest text kept for one record's data.
const MAX_DATA_TEXT: usize = 255;

/// A message as the observatory sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsMessage {
    pub id: u16,
    /// QR bit: a response rather than a query.
    pub response: bool,
    /// Opcode 0 (a standard query); others (NOTIFY, UPDATE) are not logged.
    pub standard_query: bool,
    /// TC bit.
    pub truncated: bool,
    /// Response code (the header's four bits).
    pub rcode: u16,
    /// The first question, if the message had a readable one.
    pub question: Option<Question>,
    /// Answer records, in order, at most [`MAX_ANSWERS`].
    pub answers: Vec<Answer>,
    /// The message ended before all the records its header announced.
    pub incomplete: bool,
}

/// What was asked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Question {
    /// Name as sent (case kept), without the trailing dot.
    pub name: String,
    pub qtype: RecordType,
    pub qclass: u16,
}

impl Question {
    /// The key two questions are compared by: lower-case name, type,
    /// class (resolvers may randomise case, RFC draft "0x20").
    pub fn key(&self) -> (String, u16, u16) {
        (self.name.to_lowercase(), u16::from(self.qtype), self.qclass)
    }
}

/// One answer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Owner name, without the trailing dot.
    pub name: String,
    pub rtype: RecordType,
    pub ttl: u32,
    pub data: AnswerData,
}

/// The part of a record's data the log shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerData {
    /// A or AAAA.
    Addr(IpAddr),
    /// CNAME target, without the trailing dot.
    Alias(String),
    /// Anything else, as presentation text (MX, PTR, SRV, TXT, HTTPS, ...).
    Text(String),
}

/// Why a message could not be read at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("shorter than a DNS header")]
    Truncated,
    #[error("malformed DNS message")]
    Malformed,
}

/// Reads one message. Only the header must be whole; a bad or missing
/// record after it ends the reading with what was read so far.
pub fn parse_message(bytes: &[u8]) -> Result<DnsMessage, ParseError> {
    let mut decoder = BinDecoder::new(bytes);
    let header = Header::read(&mut decoder).map_err(|_| ParseError::Truncated)?;
    let meta = header.metadata;
    let counts = header.counts;
    let response = meta.message_type == MessageType::Response;
    let mut message = DnsMessage {
        id: meta.id,
        response,
        standard_query: meta.op_code == OpCode::Query,
        truncated: meta.truncation,
        rcode: u16::from(meta.response_code.low()),
        question: None,
        answers: Vec::new(),
        incomplete: false,
    };
    if counts.queries == 0 {
        return Ok(message);
    }
    match Query::read(&mut decoder) {
        Ok(q) => {
            message.question = Some(Question {
                name: name_text(&q.name),
                qtype: q.query_type,
                qclass: u16::from(q.query_class),
            });
        }
        Err(_) => {
            if decoder.is_empty() {
                message.incomplete = true;
                return Ok(message);
            }
            return Err(ParseError::Malformed);
        }
    }
    if !response {
        return Ok(message);
    }
    // Further questions (rare; servers answer the first) are skipped.
    for _ in 1..counts.queries {
        if Query::read(&mut decoder).is_err() {
            message.incomplete = true;
            return Ok(message);
        }
    }
    let wanted = usize::from(counts.answers);
    for _ in 0..wanted.min(MAX_ANSWERS) {
        match Record::<RData>::read(&mut decoder) {
            Ok(record) => {
                if let Some(answer) = answer(&record) {
                    message.answers.push(answer);
                }
            }
            Err(_) => {
                message.incomplete = true;
                break;
            }
        }
    }
    Ok(message)
}

fn answer(record: &Record) -> Option<Answer> {
    let data = match &record.data {
        RData::A(a) => AnswerData::Addr(IpAddr::V4(a.0)),
        RData::AAAA(a) => AnswerData::Addr(IpAddr::V6(a.0)),
        RData::CNAME(c) => AnswerData::Alias(name_text(&c.0)),
        // An answer section carries no OPT, and update records mean an
        // UPDATE message, which is not logged.
        RData::OPT(_) | RData::Update0(_) => return None,
        other => AnswerData::Text(bounded(other.to_string())),
    };
    Some(Answer {
        name: name_text(&record.name),
        rtype: record.record_type(),
        ttl: record.ttl,
        data,
    })
}

/// A name in presentation form without the trailing dot ("." for the
/// root). hickory escapes bytes that are not printable.
fn name_text(name: &Name) -> String {
    let mut text = name.to_ascii();
    if text.len() > 1 && text.ends_with('.') {
        text.pop();
    }
    text
}

fn bounded(mut text: String) -> String {
    if text.len() > MAX_DATA_TEXT {
        let mut cut = MAX_DATA_TEXT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// The record type's usual name (A, AAAA, HTTPS, TYPE65534, ...).
pub fn type_name(rtype: RecordType) -> String {
    match rtype {
        RecordType::Unknown(n) => format!("TYPE{n}"),
        other => other.to_string(),
    }
}

/// Response codes by their usual names.
pub fn rcode_name(rcode: u16) -> String {
    match rcode {
        0 => "NOERROR".to_string(),
        1 => "FORMERR".to_string(),
        2 => "SERVFAIL".to_string(),
        3 => "NXDOMAIN".to_string(),
        4 => "NOTIMP".to_string(),
        5 => "REFUSED".to_string(),
        other => format!("RCODE{other}"),
    }
}

impl fmt::Display for AnswerData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnswerData::Addr(ip) => write!(f, "{ip}"),
            AnswerData::Alias(name) | AnswerData::Text(name) => f.write_str(name),
        }
    }
}
