//! Who a captured frame belongs to, asked after the fact: the owners of
//! the flows the frame updated (one, or two for traffic between two local
//! sockets), as the engine knows them now. The pcapng writer asks it a
//! refresh after the frames were counted, when owners found off the
//! packet path are known. A query: nothing here runs per packet unless a
//! caller asks.

use crate::capture::Frame;
use crate::decode::decode;
use crate::flow::PackedKey;
use crate::socket::ProcessInfo;

use super::Engine;

impl Engine {
    /// The processes owning the flows of `frame` (sender's side first),
    /// or none when the frame is not IP, is unowned or its flow expired.
    pub fn owners_of_frame(&self, frame: &Frame<'_>) -> Vec<&ProcessInfo> {
        let Ok(mut packet) = decode(frame) else {
            return Vec::new();
        };
        if packet.outgoing.is_none()
            && frame.link == crate::capture::LinkType::Ethernet
            && !self.macs.is_empty()
        {
            if let Some(src) = frame.data.get(6..12) {
                packet.outgoing = Some(self.macs.iter().any(|m| m[..] == *src));
            }
        }
        let Some(ip) = packet.ip else {
            return Vec::new();
        };
        let sides = self.local.sides(&ip, packet.outgoing);
        let mut owners: Vec<&ProcessInfo> = Vec::with_capacity(2);
        for (_, key) in std::iter::once(sides.first).chain(sides.second) {
            let owner = self
                .flows
                .get(&PackedKey::from(&key))
                .and_then(|entry| entry.slot)
                .map(|slot| &self.processes.get(slot).info);
            if let Some(owner) = owner {
                if !owners.iter().any(|o| o.pid == owner.pid) {
                    owners.push(owner);
                }
            }
        }
        owners
    }
}
