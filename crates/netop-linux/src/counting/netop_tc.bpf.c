// SPDX-License-Identifier: MIT OR GPL-2.0
//
// netop's kernel counting: a traffic-control program on each captured
// interface's ingress and egress adds every packet's bytes and count to a
// per-CPU hash keyed by (interface, direction, family, protocol, source
// and destination address and port), with the first and last time seen,
// so no packet is copied to userspace. netop reads and deletes the entries
// in batches (counting/table.rs) and hands them to the engine as flow
// deltas.
//
// The parse follows the userspace decoder (netop-core/src/decode.rs): the
// link header by the interface's type (Ethernet with up to three VLAN
// tags, or bare IP on tun/WireGuard-style devices, told apart by which
// program is attached), IPv4 (ports only when the fragment offset is 0),
// IPv6 with its extension headers, TCP and UDP ports and TCP's
// SYN/FIN/RST. The byte measure is skb->len (see size_of for offload
// packets leaving bare-IP devices): the network layer plus the
// interface's link header, what the interface counters count and what
// the decoder's wire_len is.
//
// With the DNS observatory on, port-53 packets (skb->protocol IPv4
// unfragmented or IPv6 without extension headers, no VLAN tag, UDP or TCP,
// port 53 on either side: the rule the pcap path's classic filter applies,
// netop-linux/src/capture/dns_snap.rs) are not counted here: their first
// DNS_SNAP bytes go to userspace through the DNS ring buffer, one fixed-size
// record each, and netop counts them from those frames, so each packet is
// counted once and no packet socket sees the rest of the traffic. A record
// that finds the ring full is counted in DNS_FULL and the packet is counted
// here instead (its bytes are kept; only its DNS message is missed).
// counting/dns_ring.rs decodes struct dns_record; keep the two in step.

// The map is preallocated (sized for the host by counting.rs
// capacity_for); an insert that fails because it is full is counted in
// FULL (per CPU), and netop reports those packets as dropped.
//
// The layouts of struct flow_key and struct flow_val are decoded by
// counting/table.rs; keep the two in step.

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

// The UAPI context (linux/bpf.h) up to the fields read; the verifier
// checks accesses by offset.
struct __sk_buff {
	__u32 len;
	__u32 pkt_type;
	__u32 mark;
	__u32 queue_mapping;
	__u32 protocol;
	__u32 vlan_present;
	__u32 vlan_tci;
	__u32 vlan_proto;
	__u32 priority;
	__u32 ingress_ifindex;
	__u32 ifindex;
	__u32 tc_index;
	__u32 cb[5];
	__u32 hash;
	__u32 tc_classid;
	__u32 data;
	__u32 data_end;
	__u32 napi_id;
	__u32 family;
	__u32 remote_ip4;
	__u32 local_ip4;
	__u32 remote_ip6[4];
	__u32 local_ip6[4];
	__u32 remote_port;
	__u32 local_port;
	__u32 data_meta;
	__u64 flow_keys;
	__u64 tstamp;
	__u32 wire_len;
	__u32 gso_segs;
};

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define BPF_MAP_TYPE_PERCPU_HASH 5
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define BPF_MAP_TYPE_RINGBUF 27
#define BPF_NOEXIST 1
#define TC_ACT_UNSPEC -1
#define E2BIG 7
#define ENOMEM 12

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_QINQ_OLD 0x9100
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_HOPOPTS 0
#define IPPROTO_ROUTING 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_AH 51
#define IPPROTO_DSTOPTS 60

#define FLAG_SYN 1
#define FLAG_FIN 2
#define FLAG_RST 4

struct flow_key {
	__u32 ifindex;
	__u8 family; // 0: not IP, 4, 6
	__u8 proto;
	__u8 egress;
	__u8 pad;
	__be16 sport;
	__be16 dport;
	__u8 src[16];
	__u8 dst[16];
};

struct flow_val {
	__u64 bytes;
	__u64 packets;
	__u64 first;
	__u64 last;
	__u64 cookie;
	__u32 flags;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_val);
} FLOWS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} FULL SEC(".maps");

// Set by the loader: 1 when port-53 packets go to the DNS ring (the DNS
// observatory is on) instead of the table.
const volatile __u32 skip_dns = 0;

// Bytes of a DNS packet copied, from the start of the skb (the link header
// on Ethernet): the pcap path's snap length (DNS_SNAPLEN in dns_snap.rs).
#define DNS_SNAP 1960
#define DNS_EGRESS 1
#define DNS_ETHERNET 2

struct dns_record {
	__u64 ktime; // bpf_ktime_get_ns
	__u32 ifindex;
	__u32 len; // skb->len
	__u32 cap; // bytes of data filled
	__u16 protocol; // skb->protocol, host order
	__u8 flags; // DNS_EGRESS, DNS_ETHERNET
	__u8 pad;
	__u8 data[DNS_SNAP];
};

// 1 MiB: about 520 records between two reads of the ring.
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} DNS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} DNS_FULL SEC(".maps");

struct l4 {
	__u8 proto;
	__u8 ports; // the transport header was read
	__u8 direct; // the transport header follows the IP header directly
	__u8 flags;
	__be16 sport;
	__be16 dport;
};

static __always_inline void transport(struct __sk_buff *skb, __u32 off, struct l4 *t)
{
	if (t->proto != IPPROTO_TCP && t->proto != IPPROTO_UDP)
		return;
	__u8 h[14];
	__u32 need = t->proto == IPPROTO_TCP ? 14 : 4;
	if (need == 14) {
		if (bpf_skb_load_bytes(skb, off, h, 14) < 0)
			return;
		__u8 f = h[13];
		t->flags = ((f & 0x02) ? FLAG_SYN : 0) | ((f & 0x01) ? FLAG_FIN : 0) |
			   ((f & 0x04) ? FLAG_RST : 0);
	} else if (bpf_skb_load_bytes(skb, off, h, 4) < 0) {
		return;
	}
	__builtin_memcpy(&t->sport, &h[0], 2);
	__builtin_memcpy(&t->dport, &h[2], 2);
	t->ports = 1;
}

static __always_inline int ipv4(struct __sk_buff *skb, __u32 off, struct flow_key *k,
				struct l4 *t)
{
	__u8 h[20];
	if (bpf_skb_load_bytes(skb, off, h, 20) < 0)
		return -1;
	if ((h[0] >> 4) != 4)
		return -1;
	__u32 ihl = (h[0] & 0x0f) * 4;
	if (ihl < 20)
		return -1;
	k->family = 4;
	t->proto = h[9];
	__builtin_memcpy(k->src, &h[12], 4);
	__builtin_memcpy(k->dst, &h[16], 4);
	__u16 frag = ((__u16)h[6] << 8) | h[7];
	if ((frag & 0x1fff) == 0) {
		t->direct = 1;
		transport(skb, off + ihl, t);
	}
	return 0;
}

// An IPv6 extension header etherparse walks over.
static __always_inline int is_extension(__u8 next)
{
	return next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_FRAGMENT ||
	       next == IPPROTO_AH || next == IPPROTO_DSTOPTS;
}

static __always_inline int ipv6(struct __sk_buff *skb, __u32 off, struct flow_key *k,
				struct l4 *t)
{
	__u8 h[40];
	if (bpf_skb_load_bytes(skb, off, h, 40) < 0)
		return -1;
	if ((h[0] >> 4) != 6)
		return -1;
	k->family = 6;
	__builtin_memcpy(k->src, &h[8], 16);
	__builtin_memcpy(k->dst, &h[24], 16);
	__u8 next = h[6];
	__u32 at = off + 40;
	t->direct = 1;
	// Extension headers, as etherparse walks them (a few at most).
#pragma unroll
	for (int i = 0; i < 6; i++) {
		if (!is_extension(next))
			break;
		__u8 e[4];
		if (bpf_skb_load_bytes(skb, at, e, 4) < 0) {
			t->proto = next;
			return 0;
		}
		t->direct = 0;
		if (next == IPPROTO_FRAGMENT) {
			__u16 offset = (((__u16)e[2] << 8) | e[3]) & 0xfff8;
			next = e[0];
			at += 8;
			if (offset != 0) {
				// A later fragment: no transport header.
				t->proto = next;
				return 0;
			}
		} else if (next == IPPROTO_AH) {
			next = e[0];
			at += ((__u32)e[1] + 2) * 4;
		} else {
			next = e[0];
			at += ((__u32)e[1] + 1) * 8;
		}
	}
	t->proto = next;
	transport(skb, at, t);
	return 0;
}

// Bytes and packets of one skb. A segmentation-offload packet leaving a
// bare-IP device (tun, WireGuard) is cut into segments in software after
// this hook, before libpcap and the interface counters see them: it counts
// as its segments (the kernel's wire_len: each segment with its headers).
// Elsewhere (veth, a NIC with TSO) the big packet is what they see.
struct size {
	__u64 bytes;
	__u64 packets;
};

static __always_inline struct size size_of(struct __sk_buff *skb, int segments)
{
	struct size z = { .bytes = skb->len, .packets = 1 };
	if (segments) {
		__u32 segs = skb->gso_segs;
		__u32 wire = skb->wire_len;
		if (segs > 1 && wire > skb->len) {
			z.bytes = wire;
			z.packets = segs;
		}
	}
	return z;
}

// The time a packet's entry last moved: the coarse clock (CLOCK_MONOTONIC
// at the last tick, 4 ms at HZ=250), read on every packet. The precise
// clock costs a TSC read, which on a VM was about 40 ns of the 1.7 us a
// 60-byte datagram took to send (a third of the program's whole cost);
// the coarse one is a load. Only `last` is coarse: it ends a flow's
// activity and the per-second split of its delta, where a tick does not
// matter. `first` orders deltas (on `any` the first interface a flow
// crossed takes its seat), so it is read precisely, once per entry and
// CPU. The loader sets coarse_clock = 0 on kernels before 5.11, which
// lack the coarse helper; the verifier then never sees the call.
const volatile __u32 coarse_clock = 1;

static __always_inline __u64 last_now(void)
{
	return coarse_clock ? bpf_ktime_get_coarse_ns() : bpf_ktime_get_ns();
}

// Adds counts to the entry of `k` in the table, making it when there is
// none (with `cookie`, or the socket cookie of `egress_skb` when one is
// given: read only then, as it is a helper call). `atomic`: the adding
// may be interrupted by this CPU's classifier (netop_flush run on its own
// CPU, where softirqs still run), so bytes and packets are added with
// single instructions that cannot be split; the times and flags may lose
// a race there, which costs a tick or a flag, not a byte.
static __always_inline void merge(const struct flow_key *k, __u64 bytes, __u64 packets,
				  __u64 first, __u64 last, __u32 flags, __u64 cookie,
				  struct __sk_buff *egress_skb, int atomic)
{
	struct flow_val *v = bpf_map_lookup_elem(&FLOWS, k);
	if (!v) {
		struct flow_val fresh = {
			.bytes = bytes,
			.packets = packets,
			.first = first,
			.last = last,
			.cookie = egress_skb ? bpf_get_socket_cookie(egress_skb) : cookie,
			.flags = flags,
		};
		if (bpf_map_update_elem(&FLOWS, k, &fresh, BPF_NOEXIST) == 0)
			return;
		// Another CPU added the key a moment ago (the values are per
		// CPU, so this CPU's is still zero): add to it.
		v = bpf_map_lookup_elem(&FLOWS, k);
		if (!v) {
			__u32 zero = 0;
			__u64 *full = bpf_map_lookup_elem(&FULL, &zero);
			if (full)
				*full += packets;
			return;
		}
	}
	if (atomic) {
		__sync_fetch_and_add(&v->bytes, bytes);
		__sync_fetch_and_add(&v->packets, packets);
	} else {
		v->bytes += bytes;
		v->packets += packets;
	}
	// The entry may have been made on another CPU: this CPU's value
	// starts at zero, first time included.
	if (v->first == 0)
		v->first = first;
	if (last > v->last)
		v->last = last;
	v->flags |= flags;
}

// This CPU's last flow. A stream of packets of one flow (the common case
// under load: a sender's datagrams, a download's segments) is added here
// without the table's hash lookup, which was about 40 ns of the 1.7 us a
// 60-byte datagram took on a VM. The slot is merged into the table when a
// packet of another flow comes, and by its own stream once it is
// SLOT_AGE old, so a busy CPU's slot never waits long. A slot left behind
// by a flow that stopped is merged by netop_flush, which netop runs on the
// slot's CPU before reading the table when the slot is older than that
// (BPF_PROG_TEST_RUN with BPF_F_TEST_RUN_ON_CPU, counting/slots.rs): the
// CPU has counted nothing for a while then, so the interrupt that runs it
// there is cheap. Running it on a CPU busy with a sender cost netop up to
// 20 ms per call on a VM.
//
// `busy` keeps the two apart on one CPU. netop_flush on another CPU runs
// in an interrupt, which may come in the middle of a classifier: it sees
// busy and answers 1 (netop tries again). On its own CPU it runs in
// process context, where a softirq's classifier may come in the middle of
// it: the classifier sees busy and adds its packet to the table directly.
// The loader sets use_slot = 0 on kernels before 5.11 (no running on a
// chosen CPU before 5.10, no coarse clock before 5.11).
struct slot {
	struct flow_key key;
	__u32 used;
	struct flow_val val;
	__u32 busy;
	__u32 pad;
	__u64 since; // coarse clock: when the slot was filled
};

// 50 ms: at the table's 10 reads a second, a stream's counts reach netop
// by the next read.
#define SLOT_AGE 50000000ULL

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct slot);
} SLOT SEC(".maps");

const volatile __u32 use_slot = 1;

#define barrier() asm volatile("" ::: "memory")

static __always_inline int same_key(const struct flow_key *a, const struct flow_key *b)
{
	const __u32 *x = (const __u32 *)a;
	const __u32 *y = (const __u32 *)b;
	__u32 d = 0;
#pragma unroll
	for (int i = 0; i < (int)(sizeof(struct flow_key) / 4); i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

// Merges a slot's counts into the table (`atomic` as for merge).
static __always_inline void merge_slot(struct slot *s, int atomic)
{
	merge(&s->key, s->val.bytes, s->val.packets, s->val.first, s->val.last, s->val.flags,
	      s->val.cookie, 0, atomic);
}

// Adds a packet to a slot that holds its flow.
static __always_inline void slot_count(struct slot *s, struct size z, __u8 flags, __u64 now)
{
	s->val.bytes += z.bytes;
	s->val.packets += z.packets;
	s->val.last = now;
	s->val.flags |= flags;
}

// Adds a packet to this CPU's slot when the slot holds its flow and is
// not due to be merged: a stream's next packet, the common case, in a few
// instructions in line. 0 otherwise (another flow, an empty or busy slot,
// one SLOT_AGE old), and add() takes the packet.
static __always_inline int slot_hit(const struct flow_key *k, struct size z, __u8 flags)
{
	if (!use_slot)
		return 0;
	__u32 zero = 0;
	struct slot *s = bpf_map_lookup_elem(&SLOT, &zero);
	if (!s || s->busy)
		return 0;
	s->busy = 1;
	barrier();
	int hit = 0;
	if (s->used && same_key(&s->key, k)) {
		__u64 now = last_now();
		if (now - s->since < SLOT_AGE) {
			slot_count(s, z, flags, now);
			hit = 1;
		}
	}
	barrier();
	s->busy = 0;
	return hit;
}

// Adds a packet through the slot or the table. Out of line (a BPF
// subprogram): it is the rare path, and kept apart it leaves the common
// packet's code one short run (see fast).
static __noinline void add(struct flow_key *k, struct __sk_buff *skb, __u8 flags, int egress,
			   int segments)
{
	struct size z = size_of(skb, segments);
	if (use_slot) {
		__u32 zero = 0;
		struct slot *s = bpf_map_lookup_elem(&SLOT, &zero);
		if (s && !s->busy) {
			s->busy = 1;
			barrier();
			if (s->used && same_key(&s->key, k)) {
				__u64 now = last_now();
				slot_count(s, z, flags, now);
				if (now - s->since >= SLOT_AGE) {
					merge_slot(s, 0);
					s->used = 0;
				}
			} else {
				if (s->used)
					merge_slot(s, 0);
				__u64 now = bpf_ktime_get_ns();
				__builtin_memcpy(&s->key, k, sizeof(*k));
				s->val.bytes = z.bytes;
				s->val.packets = z.packets;
				s->val.first = now;
				s->val.last = now;
				s->val.cookie = egress ? bpf_get_socket_cookie(skb) : 0;
				s->val.flags = flags;
				s->since = last_now();
				s->used = 1;
			}
			barrier();
			s->busy = 0;
			return;
		}
	}
	__u64 now = bpf_ktime_get_ns();
	merge(k, z.bytes, z.packets, now, now, flags, 0, egress ? skb : 0, 0);
}

// Merges this CPU's slot into the table (see struct slot): 0 when done or
// empty, 1 when a classifier on this CPU is in the middle of it (try
// again).
SEC("raw_tp")
int netop_flush(void *ctx)
{
	__u32 zero = 0;
	struct slot *s = bpf_map_lookup_elem(&SLOT, &zero);
	if (!s)
		return 0;
	if (s->busy)
		return 1;
	s->busy = 1;
	barrier();
	if (s->used) {
		merge_slot(s, 1);
		s->used = 0;
	}
	barrier();
	s->busy = 0;
	return 0;
}

// Copies a DNS packet into the ring; 0 when the ring had no room (counted
// in DNS_FULL).
static __always_inline int dns_record(struct __sk_buff *skb, int ethernet, int egress)
{
	struct dns_record *r = bpf_ringbuf_reserve(&DNS, sizeof(*r), 0);
	if (!r) {
		__u32 zero = 0;
		__u64 *full = bpf_map_lookup_elem(&DNS_FULL, &zero);
		if (full)
			*full += 1;
		return 0;
	}
	__u32 len = skb->len;
	// 64 bits, so the bounds the verifier learns are on the register
	// passed (1..DNS_SNAP).
	__u64 cap = len < DNS_SNAP ? len : DNS_SNAP;
	r->ktime = bpf_ktime_get_ns();
	r->ifindex = skb->ifindex;
	r->len = len;
	r->protocol = bpf_ntohs((__u16)skb->protocol);
	r->flags = (egress ? DNS_EGRESS : 0) | (ethernet ? DNS_ETHERNET : 0);
	r->pad = 0;
	if (cap < 1 || bpf_skb_load_bytes(skb, 0, r->data, cap) < 0)
		cap = 0;
	r->cap = cap;
	bpf_ringbuf_submit(r, 0);
	return 1;
}

// What every parse ends with: the key completed from the transport
// facts, port-53 packets handed to the DNS ring (see above), the rest
// added to the table.
static __always_inline int finish(struct __sk_buff *skb, struct flow_key *k, struct l4 *t,
				  int tags, int ethernet, int egress)
{
	k->proto = t->proto;
	if (t->ports) {
		k->sport = t->sport;
		k->dport = t->dport;
	}
	if (skip_dns && tags == 0 && t->direct && t->ports) {
		__u16 proto = bpf_ntohs((__u16)skb->protocol);
		int family_ok = (proto == ETH_P_IP && k->family == 4) ||
				(proto == ETH_P_IPV6 && k->family == 6);
		if (family_ok && (t->sport == bpf_htons(53) || t->dport == bpf_htons(53)) &&
		    dns_record(skb, ethernet, egress))
			return TC_ACT_UNSPEC;
	}
	add(k, skb, t->flags, egress, !ethernet && egress);
	return TC_ACT_UNSPEC;
}

// The common packet read in place (direct packet access, no helper call a
// header): untagged, IPv4 that is not a later fragment or IPv6 without
// extension headers, TCP or UDP, its headers in the skb's linear data,
// not port 53 while DNS goes to the ring. Its fields are read a word at a
// time (unaligned packet loads, which the verifier allows where the CPU
// has them cheap, as x86 and arm64 do; the key's addresses are 4-aligned),
// and a packet of the slot's flow is added in line, so this path is one
// short run of instructions. Anything else takes the general parse (out of
// line), which reads the same fields with bpf_skb_load_bytes; both give
// the same key (checked by tests/counting.rs on hand-made frames and on a
// recording). 1 when the packet was counted here, 0 when it was left to
// the general parse.
static __always_inline int fast(struct __sk_buff *skb, int ethernet, int egress)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	__u8 *ip = data;
	__u8 version;
	if (ethernet) {
		if (data + 14 > end)
			return 0;
		__u16 ether_type = *(__u16 *)(data + 12);
		ip = data + 14;
		if (ether_type == bpf_htons(ETH_P_IP))
			version = 4;
		else if (ether_type == bpf_htons(ETH_P_IPV6))
			version = 6;
		else
			return 0;
	} else {
		if ((void *)(ip + 1) > end)
			return 0;
		version = ip[0] >> 4;
	}
	struct flow_key k;
	__builtin_memset(&k, 0, sizeof(k));
	k.ifindex = skb->ifindex;
	k.egress = egress;
	__u8 proto;
	__u8 *l4p;
	__u32 *src = (__u32 *)k.src;
	__u32 *dst = (__u32 *)k.dst;
	if (version == 4) {
		if ((void *)(ip + 20) > end || (ip[0] >> 4) != 4)
			return 0;
		__u32 ihl = (ip[0] & 0x0f) * 4;
		if (ihl < 20 || (*(__u16 *)(ip + 6) & bpf_htons(0x1fff)) != 0)
			return 0;
		k.family = 4;
		proto = ip[9];
		src[0] = *(__u32 *)(ip + 12);
		dst[0] = *(__u32 *)(ip + 16);
		l4p = ip + ihl;
	} else if (version == 6) {
		if ((void *)(ip + 40) > end || (ip[0] >> 4) != 6)
			return 0;
		proto = ip[6];
		if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
			return 0;
		k.family = 6;
#pragma unroll
		for (int i = 0; i < 4; i++) {
			src[i] = *(__u32 *)(ip + 8 + 4 * i);
			dst[i] = *(__u32 *)(ip + 24 + 4 * i);
		}
		l4p = ip + 40;
	} else {
		return 0;
	}
	__u8 flags = 0;
	if (proto == IPPROTO_TCP) {
		if ((void *)(l4p + 14) > end)
			return 0;
		__u8 f = l4p[13];
		flags = ((f & 0x02) ? FLAG_SYN : 0) | ((f & 0x01) ? FLAG_FIN : 0) |
			((f & 0x04) ? FLAG_RST : 0);
	} else if (proto == IPPROTO_UDP) {
		if ((void *)(l4p + 4) > end)
			return 0;
	} else {
		return 0;
	}
	k.proto = proto;
	__u16 sport = *(__u16 *)l4p;
	__u16 dport = *(__u16 *)(l4p + 2);
	if (skip_dns && (sport == bpf_htons(53) || dport == bpf_htons(53)))
		return 0;
	k.sport = sport;
	k.dport = dport;
	int segments = !ethernet && egress;
	if (!slot_hit(&k, size_of(skb, segments), flags))
		add(&k, skb, flags, egress, segments);
	return 1;
}

// Every packet the common path leaves: out of line, so its code stays
// apart from the common path's.
static __noinline int general(struct __sk_buff *skb, int ethernet, int egress)
{
	struct flow_key k;
	__builtin_memset(&k, 0, sizeof(k));
	k.ifindex = skb->ifindex;
	k.egress = egress;
	struct l4 t = {};
	__u32 off = 0;
	__u16 ether_type = 0;
	int tags = 0;
	if (ethernet) {
		__u8 eth[14];
		if (bpf_skb_load_bytes(skb, 0, eth, 14) < 0)
			goto other;
		ether_type = ((__u16)eth[12] << 8) | eth[13];
		off = 14;
#pragma unroll
		for (int i = 0; i < 3; i++) {
			if (ether_type != ETH_P_8021Q && ether_type != ETH_P_8021AD &&
			    ether_type != ETH_P_QINQ_OLD)
				break;
			__u8 tag[4];
			if (bpf_skb_load_bytes(skb, off, tag, 4) < 0)
				goto other;
			ether_type = ((__u16)tag[2] << 8) | tag[3];
			off += 4;
			tags++;
		}
		if (ether_type == ETH_P_IP) {
			if (ipv4(skb, off, &k, &t) < 0)
				goto other;
		} else if (ether_type == ETH_P_IPV6) {
			if (ipv6(skb, off, &k, &t) < 0)
				goto other;
		} else {
			goto other;
		}
	} else {
		__u8 v;
		if (bpf_skb_load_bytes(skb, 0, &v, 1) < 0)
			goto other;
		if ((v >> 4) == 4) {
			if (ipv4(skb, 0, &k, &t) < 0)
				goto other;
		} else if ((v >> 4) == 6) {
			if (ipv6(skb, 0, &k, &t) < 0)
				goto other;
		} else {
			goto other;
		}
	}
	return finish(skb, &k, &t, tags, ethernet, egress);
other:
	// Not IP (ARP, LLDP, ...), or not decodable: counted on the interface.
	__builtin_memset(&k, 0, sizeof(k));
	k.ifindex = skb->ifindex;
	k.egress = egress;
	add(&k, skb, 0, egress, !ethernet && egress);
	return TC_ACT_UNSPEC;
}

SEC("classifier")
int netop_eth_ingress(struct __sk_buff *skb)
{
	if (fast(skb, 1, 0))
		return TC_ACT_UNSPEC;
	return general(skb, 1, 0);
}

SEC("classifier")
int netop_eth_egress(struct __sk_buff *skb)
{
	if (fast(skb, 1, 1))
		return TC_ACT_UNSPEC;
	return general(skb, 1, 1);
}

SEC("classifier")
int netop_raw_ingress(struct __sk_buff *skb)
{
	if (fast(skb, 0, 0))
		return TC_ACT_UNSPEC;
	return general(skb, 0, 0);
}

SEC("classifier")
int netop_raw_egress(struct __sk_buff *skb)
{
	if (fast(skb, 0, 1))
		return TC_ACT_UNSPEC;
	return general(skb, 0, 1);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
