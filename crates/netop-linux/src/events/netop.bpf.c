// SPDX-License-Identifier: MIT OR GPL-2.0
//
// netop's event source: for every TCP/UDP socket that sends or receives,
// which process (tgid, comm, uid) owns it, with its tuple, network
// namespace and socket cookie, told to userspace through a ring buffer
// while the process still exists, so short-lived connections and
// processes are attributed.
//
// Three BTF tracepoints, all cheap on the common path:
// - sock_send_length / sock_recv_length fire in the caller's context after
//   the call returns (autobound ports are set). Socket-local storage
//   (BPF_MAP_TYPE_SK_STORAGE: one pointer hop from the socket, freed with
//   it, so a recycled socket address never inherits stale state) remembers
//   what was last reported (tgid + tuple); only a new or changed socket is
//   emitted.
// - inet_sock_set_state: CLOSE -> SYN_SENT runs in connect()'s process
//   context, so the owner is remembered there; SYN_SENT -> ESTABLISHED
//   runs in softirq (its pid is meaningless) and emits the full tuple with
//   the remembered owner, so a connection that sends nothing is caught.
//   Passive sockets get their owner from their first send or receive.
//
// Kernel structs are declared here with only the fields read, and
// preserve_access_index: the loader relocates them against the running
// kernel's BTF (CO-RE), so no vmlinux.h is needed to build this file.
// The record layout (struct netop_event) is decoded by events/record.rs;
// keep the two in step.

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7

#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define BPF_MAP_TYPE_SK_STORAGE 24
#define BPF_MAP_TYPE_RINGBUF 27
#define BPF_F_NO_PREALLOC 1
#define BPF_RB_NO_WAKEUP 1
#define BPF_RB_FORCE_WAKEUP 2
#define BPF_RB_AVAIL_DATA 0
#define BPF_SK_STORAGE_GET_F_CREATE 1

#define KIND_SEND 1
#define KIND_RECV 2
#define KIND_CONNECT 3

#define COMM_LEN 16

struct in6_addr {
	union {
		__u8 u6_addr8[16];
	} __attribute__((preserve_access_index)) in6_u;
} __attribute__((preserve_access_index));

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

typedef struct {
	struct net *net;
} possible_net_t;

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
} __attribute__((preserve_access_index));

// One record in the ring buffer: 80 bytes, native byte order except the
// addresses, which are in network order as the kernel keeps them. The
// cookie is the socket's (bpf_get_socket_cookie on the struct sock: in
// tracing programs the helper takes the socket pointer), the same number
// the traffic-control counter reads from the socket's egress packets, so
// a counted flow finds its owner by it.
struct netop_event {
	__u64 netns;
	__u32 tgid;
	__u32 uid;
	__u16 family;
	__u8 proto;
	__u8 kind;
	__u16 lport;
	__u16 rport;
	__u8 laddr[16];
	__u8 raddr[16];
	char comm[COMM_LEN];
	__u64 cookie;
};

// What was last reported for a socket (tgid 0: nothing yet).
struct seen {
	__u32 tgid;
	__u16 lport;
	__u16 rport;
	__u64 laddr[2];
	__u64 raddr[2];
};

// The owner of a socket between connect() and ESTABLISHED (tgid 0: none).
struct owner {
	__u32 tgid;
	__u32 uid;
	char comm[COMM_LEN];
};

// Per-socket state.
struct sock_state {
	struct seen seen;
	struct owner connecting;
};

#define EVENTS_BYTES (512 * 1024)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVENTS_BYTES);
} EVENTS SEC(".maps");

// Records are read in batches (kernel counting drains the ring with its
// table reads, ten a second), so a record wakes no reader until the ring
// is a quarter full; from there each one does, and the reader's epoll
// (edge-triggered on this ring) returns before the ring can overflow. A
// burst of 10,000 new sockets filled the 512 KiB within one read.
#define WAKE_AT (EVENTS_BYTES / 4)

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_state);
} STATE SEC(".maps");

// The socket this CPU reported or checked last, and what it was then: a
// stream of sends from one socket (the common case under load) is
// answered here by an inlined array lookup, before the socket's storage.
struct last {
	__u64 sk;
	struct seen seen;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct last);
} LAST SEC(".maps");

// [0]: events lost because the ring buffer was full.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} LOST SEC(".maps");

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *lost = bpf_map_lookup_elem(&LOST, &zero);
	if (lost)
		__sync_fetch_and_add(lost, 1);
}

// Reads the tuple of an inet socket into `s`; 0 when it is not a TCP/UDP
// socket with a local port, else its protocol.
static __always_inline __u8 read_tuple(struct sock *sk, struct seen *s, __u16 *family)
{
	__u16 fam = sk->__sk_common.skc_family;
	if (fam != AF_INET && fam != AF_INET6)
		return 0;
	__u16 proto = sk->sk_protocol;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 0;
	s->lport = sk->__sk_common.skc_num;
	if (s->lport == 0)
		return 0;
	s->rport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (fam == AF_INET) {
		s->laddr[0] = sk->__sk_common.skc_rcv_saddr;
		s->laddr[1] = 0;
		s->raddr[0] = sk->__sk_common.skc_daddr;
		s->raddr[1] = 0;
	} else {
		__builtin_memcpy(s->laddr, sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
		__builtin_memcpy(s->raddr, sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8, 16);
	}
	*family = fam;
	return (__u8)proto;
}

static __always_inline void emit(struct sock *sk, const struct seen *s, __u16 family,
				 __u8 proto, __u8 kind, __u32 uid, const char *comm)
{
	struct netop_event *e = bpf_ringbuf_reserve(&EVENTS, sizeof(*e), 0);
	if (!e) {
		count_lost();
		return;
	}
	e->netns = sk->__sk_common.skc_net.net->ns.inum;
	e->tgid = s->tgid;
	e->uid = uid;
	e->family = family;
	e->proto = proto;
	e->kind = kind;
	e->lport = s->lport;
	e->rport = s->rport;
	__builtin_memcpy(e->laddr, s->laddr, 16);
	__builtin_memcpy(e->raddr, s->raddr, 16);
	if (comm)
		__builtin_memcpy(e->comm, comm, COMM_LEN);
	else
		bpf_get_current_comm(e->comm, COMM_LEN);
	e->cookie = bpf_get_socket_cookie(sk);
	__u64 waiting = bpf_ringbuf_query(&EVENTS, BPF_RB_AVAIL_DATA);
	bpf_ringbuf_submit(e, waiting >= WAKE_AT ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

static __always_inline int same(const struct seen *a, const struct seen *b)
{
	return a->tgid == b->tgid && a->lport == b->lport && a->rport == b->rport &&
	       a->laddr[0] == b->laddr[0] && a->laddr[1] == b->laddr[1] &&
	       a->raddr[0] == b->raddr[0] && a->raddr[1] == b->raddr[1];
}

static __always_inline int on_data(struct sock *sk, __u8 kind)
{
	if (!sk)
		return 0;
	struct seen now = {};
	__u16 family = 0;
	__u8 proto = read_tuple(sk, &now, &family);
	if (!proto)
		return 0;
	now.tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 zero = 0;
	struct last *last = bpf_map_lookup_elem(&LAST, &zero);
	if (last) {
		if (last->sk == (__u64)sk && same(&last->seen, &now))
			return 0;
		last->sk = (__u64)sk;
		last->seen = now;
	}
	struct sock_state *st = bpf_sk_storage_get(&STATE, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (st) {
		if (same(&st->seen, &now))
			return 0;
		st->seen = now;
	}
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	emit(sk, &now, family, proto, kind, uid, 0);
	return 0;
}

SEC("tp_btf/sock_send_length")
int netop_send(unsigned long long *ctx)
{
	return on_data((struct sock *)ctx[0], KIND_SEND);
}

SEC("tp_btf/sock_recv_length")
int netop_recv(unsigned long long *ctx)
{
	return on_data((struct sock *)ctx[0], KIND_RECV);
}

SEC("tp_btf/inet_sock_set_state")
int netop_state(unsigned long long *ctx)
{
	struct sock *sk = (struct sock *)ctx[0];
	int oldstate = (int)ctx[1];
	int newstate = (int)ctx[2];
	if (!sk)
		return 0;
	if (newstate == TCP_SYN_SENT) {
		// connect(): the caller's context, the owner is current.
		struct sock_state *st =
			bpf_sk_storage_get(&STATE, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (!st)
			return 0;
		st->connecting.tgid = bpf_get_current_pid_tgid() >> 32;
		st->connecting.uid = (__u32)bpf_get_current_uid_gid();
		bpf_get_current_comm(st->connecting.comm, COMM_LEN);
		return 0;
	}
	if (oldstate == TCP_SYN_SENT && newstate == TCP_ESTABLISHED) {
		// Softirq: the owner is the one remembered at connect().
		struct sock_state *st = bpf_sk_storage_get(&STATE, sk, 0, 0);
		if (!st || !st->connecting.tgid)
			return 0;
		struct seen now = {};
		__u16 family = 0;
		__u8 proto = read_tuple(sk, &now, &family);
		if (proto) {
			now.tgid = st->connecting.tgid;
			st->seen = now;
			emit(sk, &now, family, proto, KIND_CONNECT, st->connecting.uid,
			     st->connecting.comm);
		}
		st->connecting.tgid = 0;
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
