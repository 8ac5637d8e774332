# Sourced by the benchmark scripts here: `test_host NS HOST_IF NS_IF PREFIX`
# makes network namespace NS joined to the root namespace by a veth
# (HOST_IF here with PREFIX.1/24, NS_IF there with PREFIX.2/24), removing a
# leftover of the same names first. The caller removes it (`ip netns del`).
test_host() {
    ip netns del "$1" 2>/dev/null; ip link del "$2" 2>/dev/null
    ip netns add "$1"
    ip link add "$2" type veth peer name "$3"
    ip link set "$3" netns "$1"
    ip addr add "$4.1/24" dev "$2"; ip link set "$2" up
    ip netns exec "$1" ip addr add "$4.2/24" dev "$3"
    ip netns exec "$1" ip link set "$3" up; ip netns exec "$1" ip link set lo up
}
