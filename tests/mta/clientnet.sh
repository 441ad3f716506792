# clientnet.sh - a client network of this run for tests/mta (sourced by
# lib.sh), so that an SMTP client can connect from addresses other than
# 127.0.0.x to an MTA that has no XCLIENT (Sendmail): the reverse DNS and
# SPF scenarios need the MTA to see a client address that the test's DNS
# records name, from a network of its own, as an MX sees the internet. Owns a network namespace and a veth pair,
# nothing else; made by clientnet_up, removed by clientnet_down (from
# lib.sh's exit trap, after the MTA has stopped), by their names.
#
#   this machine                           namespace $cn_ns
#   $cn_host_if 203.0.113.1/32   <-veth->  $cn_ns_if 198.51.100.7/32,
#   route 198.51.100.0/24 via it                     198.51.100.9/32
#                                          route 203.0.113.1/32 via it
#
# Documentation ranges only (RFC 5737), and nothing leaves the machine:
# the namespace has no other link and no default route; clientnet_up gives
# up when an address of either range is on this machine already or when
# the route to a client address does not go out through the veth (a more
# specific route elsewhere); and the MTA stops before the veth goes (with
# its routes and 203.0.113.1), so no late reply takes the default route.
# The MTA listens on 203.0.113.1 as well; a client runs in the namespace
# with clientnet_exec, bound to its address. About 0.2 s to make.
#
# Names are unique per run (the suffix of $dir, made by mktemp). Two runs
# cannot share the ranges: the addresses of one make the other give up,
# and adding the route to 198.51.100.0/24 is the claim when both start at
# once. A run that gives up (another run in progress, the remains of one
# that was killed: remove them with "ip link del" of the device named in
# the reason and "ip netns del tg-MTA-SUFFIX"; no CAP_NET_ADMIN; no ip(8))
# says why in clientnet_why, and the scenarios that need the client
# network are skipped with that reason.

cn_host_addr=203.0.113.1
cn_client_net=198.51.100.0/24
cn_client_addrs="198.51.100.7 198.51.100.9"
cn_ns="" cn_host_if="" cn_ns_if=""
cn_made_ns="" cn_made_if=""
clientnet_why=""

# clientnet_exec COMMAND... - COMMAND in the client namespace
clientnet_exec() {
	ip netns exec "$cn_ns" "$@"
}

# cn_ip ARGS... - ip(8) in the client namespace (no mount namespace
# around it as with clientnet_exec: faster)
cn_ip() {
	ip -n "$cn_ns" "$@"
}

# cn_first COMMAND... - the first line COMMAND prints, without trailing blanks
cn_first() {
	"$@" 2>/dev/null | sed -n '1s/[[:space:]]*$//p'
}

# cn_give_up REASON - undo what clientnet_up made, say why; returns 1
cn_give_up() {
	clientnet_why="no client network: $*"
	clientnet_down
	return 1
}

# cn_try WHAT COMMAND... - COMMAND; on failure give up with WHAT and
# COMMAND's first line of error output
cn_try() {
	_cn_what=$1
	shift
	if ! _cn_err=$("$@" 2>&1 >/dev/null); then
		cn_give_up "$_cn_what failed ($(echo "$_cn_err" | head -n 1))"
		return 1
	fi
}

# cn_via DEV COMMAND... - COMMAND (an "ip route get") says the route goes
# out through DEV
cn_via() {
	_cn_dev=$1
	shift
	case " $(cn_first "$@") " in
	*" dev $_cn_dev "*)	return 0 ;;
	esac
	return 1
}

# clientnet_up - make the namespace and the veth pair; 1 (clientnet_why
# set, nothing left behind) when it cannot
clientnet_up() {
	command -v ip >/dev/null 2>&1 || { cn_give_up "no ip(8)"; return; }
	# The suffix of $dir (tg-MTA.XXXXXX) names everything of this run;
	# interface names have at most 15 characters.
	_cn_sfx=${dir##*.}
	cn_ns=tg-$mta-$_cn_sfx
	cn_host_if=tgcn${_cn_sfx}h
	cn_ns_if=tgcn${_cn_sfx}c
	# Another run (or a killed one) or a real network using the ranges.
	_cn_used=$(ip -4 -o addr show to "$cn_host_addr/24"
	    ip -4 -o addr show to "$cn_client_net")
	if [ -n "$_cn_used" ]; then
		cn_give_up "an address of $cn_host_addr/24 or $cn_client_net" \
		    "is on this machine already ($(echo "$_cn_used" |
		    awk 'NR == 1 { print $2, $4 }'))"
		return
	fi
	cn_try "ip netns add (needs CAP_SYS_ADMIN)" \
	    ip netns add "$cn_ns" || return
	cn_made_ns=1
	cn_try "ip link add veth (needs CAP_NET_ADMIN)" ip link add \
	    "$cn_host_if" type veth peer name "$cn_ns_if" netns "$cn_ns" ||
	    return
	cn_made_if=1
	cn_try "ip link set up" ip link set "$cn_host_if" up || return
	cn_try "ip link set up (namespace)" \
	    cn_ip link set "$cn_ns_if" up || return
	cn_try "ip link set lo up (namespace)" cn_ip link set lo up || return
	# The claim: fails when another run (or a killed one) holds it.
	if ! ip -4 route add "$cn_client_net" dev "$cn_host_if" 2>/dev/null
	then
		cn_give_up "$cn_client_net is routed already" \
		    "($(cn_first ip -4 route show "$cn_client_net")):" \
		    "another run in progress, or left by a killed one"
		return
	fi
	cn_try "ip addr add" \
	    ip addr add "$cn_host_addr/32" dev "$cn_host_if" || return
	for _cn_a in $cn_client_addrs; do
		cn_try "ip addr add (namespace)" \
		    cn_ip addr add "$_cn_a/32" dev "$cn_ns_if" || return
	done
	cn_try "ip route add (namespace)" \
	    cn_ip route add "$cn_host_addr/32" dev "$cn_ns_if" || return
	# Both directions stay on the veth, or we do not use it at all.
	for _cn_a in $cn_client_addrs; do
		if ! cn_via "$cn_host_if" ip -4 route get "$_cn_a" ||
		    ! cn_via "$cn_ns_if" \
		    cn_ip -4 route get "$cn_host_addr" from "$_cn_a"
		then
			cn_give_up "$_cn_a is not routed through $cn_host_if" \
			    "($(cn_first ip -4 route get "$_cn_a"))"
			return
		fi
	done
}

# clientnet_down - remove what clientnet_up made, by name (the routes and
# addresses go with the devices); safe to call twice
clientnet_down() {
	# One end of the pair removes both.
	[ -n "$cn_made_if" ] && ip link del "$cn_host_if" 2>/dev/null
	[ -n "$cn_made_ns" ] && ip netns del "$cn_ns" 2>/dev/null
	cn_made_if="" cn_made_ns=""
}
