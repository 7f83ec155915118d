#!/usr/bin/env bash
# capture-samba.sh - capture golden NetBIOS-over-TCP packets from a real Samba.
#
# Starts nmbd and smbd in a private network namespace (198.18.0.2, reached
# from the root namespace at 198.18.0.1 over a veth pair), captures UDP 137
# and TCP 139 on the root-side veth, and generates:
#   (a) a node status request/response:  nmblookup -A 198.18.0.2
#   (b) a raw session request on TCP 139 (called *SMBSERVER<20>,
#       calling NBTPROBE<00>) and smbd's 4-byte answer.
#   (c) name queries to nmbd (RD clear) for its own name and for an
#       unknown one:  nmblookup -U 198.18.0.2 LABSRV#20, NOSUCH#20
#   (d) a broadcast name query on 198.18.0.255 and nmbd's answers:
#                     nmblookup -B 198.18.0.255 LABSRV#20
#   (e) name queries (RD set) to a second nmbd at 198.18.0.5, a WINS server
#       (wins support = yes), once the first has registered with it (it is
#       restarted with wins server = 198.18.0.5):
#                     nmblookup -U 198.18.0.5 --recursion LABSRV#20,
#                     NOSUCH#20, LABGRP#1e
# The UDP/TCP payloads are written in Go's encoding/hex.Dump format, one
# ">>> Flow N (client to server|server to client)" marker line per packet:
#   nbns/testdata/samba-nodestatus.hex                   (a)
#   session/testdata/samba-session.hex                   (b)
#   nbns/testdata/samba-namequery-unicast.hex            (c) LABSRV<20>: positive
#   nbns/testdata/samba-namequery-unicast-negative.hex   (c) NOSUCH<20>: NAM_ERR
#   nbns/testdata/samba-namequery-broadcast.hex          (d) the query, each answer
#   nbns/testdata/samba-namequery-wins.hex               (e) LABSRV<20>: positive
#   nbns/testdata/samba-namequery-wins-negative.hex      (e) NOSUCH<20>: NAM_ERR
#   nbns/testdata/samba-namequery-wins-group.hex         (e) LABGRP<1E>: positive
#
# Usage (as root):  nbns/testdata/capture-samba.sh [-k FILE.pcap] [-o DIR]
#   -k FILE  also keep the raw capture (pcap) at FILE
#   -o DIR   write every .hex file into DIR instead of the testdata folders
#
# Needs: iproute2, samba (nmbd, smbd), smbclient (nmblookup), tshark
# (tshark + dumpcap), python3. Uses only 198.18.0.0/24 (RFC 2544 benchmark
# range) inside a namespace it creates itself. It stops exactly the processes
# it started and removes the namespace and its temp dir on exit, also on
# failure.
set -euo pipefail

NS=nbtcap
VETH_HOST=nbtcap-host
VETH_NS=nbtcap-ns
HOST_IP=198.18.0.1
NS_IP=198.18.0.2
WINS_IP=198.18.0.5
BCAST=198.18.0.255
PREFIX=24

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NBNS_OUT=$SCRIPT_DIR
SESSION_OUT=$(cd "$SCRIPT_DIR/../.." && pwd)/session/testdata
KEEP_PCAP=

while getopts "k:o:h" opt; do
	case $opt in
	k) KEEP_PCAP=$OPTARG ;;
	o) NBNS_OUT=$OPTARG; SESSION_OUT=$OPTARG ;;
	h) sed -n '2,42p' "$0"; exit 0 ;;
	*) exit 2 ;;
	esac
done

log() { printf '[capture-samba] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (netns, veth, packet capture)"
for c in ip nmbd smbd nmblookup dumpcap tshark python3; do
	command -v "$c" >/dev/null || die "missing command: $c"
done
PY=$(command -v python3)

# Refuse to touch anything that already exists: we only clean up what we made.
if ip netns list | awk '{print $1}' | grep -qx "$NS"; then
	die "network namespace $NS already exists (leftover?); remove it with: ip netns del $NS"
fi
for l in "$VETH_HOST" "$VETH_NS"; do
	if ip link show "$l" >/dev/null 2>&1; then die "link $l already exists"; fi
done
ADDRS=$(ip -4 -o addr show)
if grep -q 'inet 198\.18\.0\.' <<<"$ADDRS"; then
	die "198.18.0.0/24 is already in use on this host"
fi

TMP=
NS_CREATED=0
DUMPCAP_PID=

stop_pid() { # stop_pid PID NAME: SIGTERM, wait up to 10 s, then SIGKILL
	local pid=$1 name=$2 i
	[[ -n $pid ]] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	log "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	log "$name (pid $pid) did not exit; SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
}

read_pidfile() { # read_pidfile DAEMON [PIDDIR]: pid from its pid file, if any
	local f d=${2:-$TMP/pid}
	for f in "$d/$1.pid" "$d/$1-"*.pid; do
		if [[ -s $f ]]; then tr -dc '0-9' <"$f"; return 0; fi
	done
	return 0
}

cleanup() {
	local rc=$? pid
	set +e
	trap - EXIT INT TERM
	stop_pid "$DUMPCAP_PID" dumpcap
	if [[ -n $TMP ]]; then
		stop_pid "$(read_pidfile smbd)" smbd
		stop_pid "$(read_pidfile nmbd)" nmbd
		stop_pid "$(read_pidfile nmbd "$TMP/w/pid")" "nmbd (WINS)"
	fi
	if ((NS_CREATED)); then
		# Anything still alive in our namespace was started by us (daemon
		# children such as smbd helpers); stop those by PID too.
		for pid in $(ip netns pids "$NS" 2>/dev/null); do
			stop_pid "$pid" "leftover $(cat /proc/"$pid"/comm 2>/dev/null)"
		done
		ip link del "$VETH_HOST" 2>/dev/null
		ip netns del "$NS"
	fi
	if [[ -n $TMP && -d $TMP ]]; then
		if ((rc != 0)); then
			for f in "$TMP"/log/* "$TMP"/w/log/*; do
				[[ -f $f ]] || continue
				log "---- tail of $f"
				tail -n 20 "$f" >&2
			done
			[[ -f $TMP/dumpcap.err ]] && { log "---- dumpcap"; cat "$TMP/dumpcap.err" >&2; }
		fi
		rm -rf -- "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TMP=$(mktemp -d /tmp/capture-samba.XXXXXX)
chmod 755 "$TMP"
mkdir -p "$TMP"/{pid,lock,state,cache,private,ncalrpc,binddns,log,client}
mkdir -p "$TMP"/w/{pid,lock,state,cache,private,ncalrpc,binddns,log}
chmod 700 "$TMP/private" "$TMP/w/private"

# ---- network namespace with a veth pair --------------------------------------
log "creating netns $NS ($VETH_HOST $HOST_IP/$PREFIX <-> $VETH_NS $NS_IP/$PREFIX)"
ip netns add "$NS"
NS_CREATED=1
ip link add "$VETH_HOST" type veth peer name "$VETH_NS"
ip link set "$VETH_NS" netns "$NS"
ip addr add "$HOST_IP/$PREFIX" dev "$VETH_HOST"
ip link set "$VETH_HOST" up
ip -n "$NS" link set lo up
ip -n "$NS" addr add "$NS_IP/$PREFIX" broadcast "$BCAST" dev "$VETH_NS"
ip -n "$NS" addr add "$WINS_IP/$PREFIX" broadcast "$BCAST" dev "$VETH_NS"
ip -n "$NS" link set "$VETH_NS" up

# ---- private Samba configuration ---------------------------------------------
CONF=$TMP/smb.conf
cat >"$CONF" <<EOF
[global]
	netbios name = LABSRV
	workgroup = LABGRP
	server string = capture-samba
	server role = standalone server
	local master = no
	domain master = no
	preferred master = no
	wins support = no
	dns proxy = no
	interfaces = $NS_IP/$PREFIX
	smb ports = 445 139
	pid directory = $TMP/pid
	lock directory = $TMP/lock
	state directory = $TMP/state
	cache directory = $TMP/cache
	private dir = $TMP/private
	ncalrpc dir = $TMP/ncalrpc
	binddns dir = $TMP/binddns
	usershare path =
	log file = $TMP/log/log.%m
	log level = 1
	load printers = no
	printcap name = /dev/null
	disable spoolss = yes
EOF

# Client side (root namespace): a separate config so nmblookup does not read
# /etc/samba/smb.conf or touch the system's Samba state directories.
CLIENT_CONF=$TMP/client/smb.conf
cat >"$CLIENT_CONF" <<EOF
[global]
	netbios name = NBTCLIENT
	workgroup = LABGRP
	interfaces = $HOST_IP/$PREFIX
	pid directory = $TMP/client
	lock directory = $TMP/client
	state directory = $TMP/client
	cache directory = $TMP/client
	private dir = $TMP/client
	ncalrpc dir = $TMP/client
	log file = $TMP/log/client.log
EOF

log "$(smbd -V)"
log "starting nmbd and smbd in $NS"
ip netns exec "$NS" nmbd -D -s "$CONF" -l "$TMP/log"
ip netns exec "$NS" smbd -D -s "$CONF" -l "$TMP/log"

# ---- wait until nmbd answers node status and smbd listens on 139 ------------
# A raw NBSTAT for '*' with a 0.3 s read timeout, retried for up to 20 s. This
# runs before the capture starts, so it is not part of the golden files.
log "waiting for node status from $NS_IP and for TCP 139"
"$PY" - "$NS_IP" <<'PYEOF'
import socket, sys, time
ip = sys.argv[1]
req = bytes.fromhex("7ff00000000100000000000020434b41414141414141414141414141414141414141414141414141414141414100") + b"\x00\x21\x00\x01"
deadline = time.monotonic() + 20
ns_ok = tcp_ok = False
while time.monotonic() < deadline and not (ns_ok and tcp_ok):
    if not ns_ok:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.3)
        try:
            s.connect((ip, 137))
            s.send(req)
            r = s.recv(2048)
            ns_ok = len(r) > 12 and r[:2] == req[:2] and r[2] & 0x80
        except OSError:
            time.sleep(0.1)
        finally:
            s.close()
    if not tcp_ok:
        try:
            socket.create_connection((ip, 139), timeout=0.3).close()
            tcp_ok = True
        except OSError:
            time.sleep(0.1)
if not (ns_ok and tcp_ok):
    sys.exit("timeout: node status answered=%s, tcp 139 open=%s" % (ns_ok, tcp_ok))
PYEOF

# ---- capture -----------------------------------------------------------------
PCAP=$TMP/cap.pcap
log "starting dumpcap on $VETH_HOST"
dumpcap -q -P -i "$VETH_HOST" -f "udp port 137 or tcp port 139" -w "$PCAP" \
	2>"$TMP/dumpcap.err" &
DUMPCAP_PID=$!
for ((i = 0; i < 100; i++)); do
	grep -q "Capturing on" "$TMP/dumpcap.err" 2>/dev/null && break
	kill -0 "$DUMPCAP_PID" 2>/dev/null || die "dumpcap exited early"
	sleep 0.1
done
grep -q "Capturing on" "$TMP/dumpcap.err" || die "dumpcap did not start"
sleep 0.5

# (a) node status with the real Samba client
log "nmblookup -A $NS_IP"
nmblookup -s "$CLIENT_CONF" -A "$NS_IP" | tee "$TMP/nmblookup.out" >&2

# (b) raw session request: called *SMBSERVER<20>, calling NBTPROBE<00>
log "raw session request to $NS_IP:139"
"$PY" - "$NS_IP" <<'PYEOF'
import socket, sys
def encode(name, suffix):
    raw = name.ljust(15).encode("ascii") + bytes([suffix])
    enc = bytearray([0x20])
    for b in raw:
        enc += bytes([0x41 + (b >> 4), 0x41 + (b & 0x0F)])
    return bytes(enc) + b"\x00"
trailer = encode("*SMBSERVER", 0x20) + encode("NBTPROBE", 0x00)
req = bytes([0x81, 0x00]) + len(trailer).to_bytes(2, "big") + trailer
s = socket.create_connection((sys.argv[1], 139), timeout=5)
s.sendall(req)
resp = b""
while len(resp) < 4:
    chunk = s.recv(4 - len(resp))
    if not chunk:
        break
    resp += chunk
s.close()
print("[capture-samba] sent %s" % req.hex(" "), file=sys.stderr)
print("[capture-samba] got  %s" % resp.hex(" "), file=sys.stderr)
if resp != b"\x82\x00\x00\x00":
    sys.exit("expected positive session response 82 00 00 00")
PYEOF

sleep 1
stop_pid "$DUMPCAP_PID" dumpcap
wait "$DUMPCAP_PID" 2>/dev/null || true
DUMPCAP_PID=
[[ -s $PCAP ]] || die "empty capture"
if [[ -n $KEEP_PCAP ]]; then cp -- "$PCAP" "$KEEP_PCAP"; log "kept capture at $KEEP_PCAP"; fi

# ---- extract payloads --------------------------------------------------------
# Node status: the request from nmblookup's ephemeral port to 198.18.0.2:137
# and nmbd's reply (nmbd's own broadcasts to 198.18.0.255 are excluded).
tshark -r "$PCAP" -T fields -E separator=' ' -e ip.src -e udp.payload \
	-Y "udp && ((ip.src==$HOST_IP && ip.dst==$NS_IP && udp.dstport==137 && udp.srcport!=137) || (ip.src==$NS_IP && ip.dst==$HOST_IP && udp.srcport==137 && udp.dstport!=137))" \
	2>/dev/null >"$TMP/udp.txt"
tshark -r "$PCAP" -T fields -E separator=' ' -e ip.src -e tcp.payload \
	-Y "tcp.port==139 && tcp.len>0" 2>/dev/null >"$TMP/tcp.txt"

mkdir -p "$NBNS_OUT" "$SESSION_OUT"
"$PY" - "$HOST_IP" "$TMP/udp.txt" "$NBNS_OUT/samba-nodestatus.hex" "$TMP/tcp.txt" "$SESSION_OUT/samba-session.hex" <<'PYEOF'
import sys

def hexdump(b):
    """Exactly Go's encoding/hex.Dump."""
    out = []
    for off in range(0, len(b), 16):
        chunk = b[off:off + 16]
        line = "%08x  " % off
        for i in range(16):
            if i < len(chunk):
                line += "%02x " % chunk[i]
            else:
                line += "   "
            if i == 7:
                line += " "
        line += " |" + "".join(chr(c) if 32 <= c <= 126 else "." for c in chunk) + "|\n"
        out.append(line)
    return "".join(out)

def load(path):
    pkts = []
    for line in open(path):
        parts = line.split()
        if len(parts) != 2:
            continue
        pkts.append((parts[0], bytes.fromhex(parts[1].replace(":", ""))))
    return pkts

def write(path, client, pkts):
    with open(path, "w") as f:
        for n, (src, data) in enumerate(pkts, 1):
            d = "client to server" if src == client else "server to client"
            f.write(">>> Flow %d (%s)\n" % (n, d))
            f.write(hexdump(data))
    print("[capture-samba] wrote %s" % path, file=sys.stderr)

client = sys.argv[1]
udp = load(sys.argv[2])
tcp = load(sys.argv[4])

# Node status: exactly one request and one response with the same TRN ID.
if len(udp) != 2 or udp[0][0] != client or udp[1][0] == client:
    sys.exit("node status: expected 1 request + 1 response, got %d packets" % len(udp))
req, resp = udp[0][1], udp[1][1]
if req[:2] != resp[:2] or req[46:50] != b"\x00\x21\x00\x01" or not resp[2] & 0x80:
    sys.exit("node status: packets do not look like NBSTAT request/response")
write(sys.argv[3], client, udp)

# Session: our 72-byte request, then smbd's 4-byte positive response.
if len(tcp) != 2 or tcp[0][0] != client or tcp[1][0] == client:
    sys.exit("session: expected 1 request + 1 response segment, got %d" % len(tcp))
if tcp[0][1][0] != 0x81 or len(tcp[0][1]) != 72 or tcp[1][1] != b"\x82\x00\x00\x00":
    sys.exit("session: unexpected payloads")
write(sys.argv[5], client, tcp)
PYEOF

# ---- name queries --------------------------------------------------------------
# capture_start FILE / capture_stop FILE: dumpcap on the root-side veth, UDP 137.
capture_start() {
	dumpcap -q -P -i "$VETH_HOST" -f "udp port 137" -w "$1" 2>"$TMP/dumpcap.err" &
	DUMPCAP_PID=$!
	for ((i = 0; i < 100; i++)); do
		grep -q "Capturing on" "$TMP/dumpcap.err" 2>/dev/null && break
		kill -0 "$DUMPCAP_PID" 2>/dev/null || die "dumpcap exited early"
		sleep 0.1
	done
	grep -q "Capturing on" "$TMP/dumpcap.err" || die "dumpcap did not start"
	sleep 0.5
}
capture_stop() {
	sleep 1 # dumpcap hands packets over in blocks, on a timer
	stop_pid "$DUMPCAP_PID" dumpcap
	wait "$DUMPCAP_PID" 2>/dev/null || true
	DUMPCAP_PID=
	[[ -s $1 ]] || die "empty capture $1"
}
# payloads PCAP OUT: every UDP 137 datagram to or from the root namespace,
# as "src sport dst dport payload" lines (nmbd's own broadcasts, from the
# namespace to 198.18.0.255, are left out).
payloads() {
	tshark -r "$1" -T fields -E separator=' ' -e ip.src -e udp.srcport -e ip.dst -e udp.dstport -e udp.payload \
		-Y "udp && (ip.src==$HOST_IP || ip.dst==$HOST_IP)" 2>/dev/null >"$2"
}
# wait_query ADDR FLAGS NAME SUFFIX WANT: send name queries (flags 0x0000:
# RD clear, 0x0100: RD, 0x0110: broadcast) from the root namespace until one
# is answered with WANT as the first NB_ADDRESS, at most 20 s. It runs
# before a capture starts, so that it is not in the files. nmbd answers
# broadcasts for its own names only once it has registered them, 3 to
# 3.5 s after it starts; a WINS server knows a name only once its owner has
# registered it.
wait_query() {
	"$PY" - "$HOST_IP" "$@" <<'PYEOF' || die "$1: no answer for $3#$4 with $5 within 20 s"
import socket, struct, sys, time
me, dst, flags, name, suffix, want = sys.argv[1], sys.argv[2], int(sys.argv[3], 0), sys.argv[4], int(sys.argv[5], 16), sys.argv[6]
raw = name.ljust(15).encode() + bytes([suffix])
q = struct.pack(">HHHHHH", 0x7ff5, flags, 1, 0, 0, 0) + b"\x20" + bytes(c for b in raw for c in (0x41 + (b >> 4), 0x41 + (b & 15))) + b"\x00\x00\x20\x00\x01"
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.settimeout(0.3)
    try:
        s.bind((me, 0))
        s.sendto(q, (dst, 137))
        r = s.recv(2048)
        if len(r) >= 62 and r[:2] == q[:2] and r[2] & 0x80 and r[3] & 0x0F == 0 and r[58:62] == socket.inet_aton(want):
            sys.exit(0)
    except OSError:
        pass
    finally:
        s.close()
    time.sleep(0.1)
sys.exit(1)
PYEOF
}

# (c), (d): nmbd as it runs above, a B node on its own.
log "waiting for nmbd to answer broadcasts for LABSRV<20>"
wait_query "$BCAST" 0x0110 LABSRV 20 "$NS_IP"
PCAP_NQ1=$TMP/namequery.pcap
capture_start "$PCAP_NQ1"
log "nmblookup -U $NS_IP LABSRV#20, NOSUCH#20; nmblookup -B $BCAST LABSRV#20"
nmblookup -s "$CLIENT_CONF" -U "$NS_IP" 'LABSRV#20' >&2
nmblookup -s "$CLIENT_CONF" -U "$NS_IP" 'NOSUCH#20' >&2 || true # "failed to find name"
nmblookup -s "$CLIENT_CONF" -B "$BCAST" 'LABSRV#20' >&2
capture_stop "$PCAP_NQ1"
payloads "$PCAP_NQ1" "$TMP/nq1.txt"

# (e): a second nmbd at 198.18.0.5 as the WINS server, and the first one
# restarted as its client, so that it registers LABSRV and LABGRP there.
WINS_CONF=$TMP/w/smb.conf
cat >"$WINS_CONF" <<WINSEOF
[global]
	netbios name = WINSSRV
	workgroup = LABGRP
	server string = capture-samba wins
	server role = standalone server
	local master = no
	domain master = no
	preferred master = no
	wins support = yes
	dns proxy = no
	interfaces = $WINS_IP/$PREFIX
	bind interfaces only = yes
	pid directory = $TMP/w/pid
	lock directory = $TMP/w/lock
	state directory = $TMP/w/state
	cache directory = $TMP/w/cache
	private dir = $TMP/w/private
	ncalrpc dir = $TMP/w/ncalrpc
	binddns dir = $TMP/w/binddns
	log file = $TMP/w/log/log.%m
	log level = 1
WINSEOF
log "starting the WINS server (nmbd) at $WINS_IP"
ip netns exec "$NS" nmbd -D -s "$WINS_CONF" -l "$TMP/w/log"
wait_query "$WINS_IP" 0x0000 WINSSRV 20 "$WINS_IP"
log "restarting nmbd at $NS_IP with wins server = $WINS_IP"
stop_pid "$(read_pidfile nmbd)" nmbd
printf '\twins server = %s\n' "$WINS_IP" >>"$CONF"
ip netns exec "$NS" nmbd -D -s "$CONF" -l "$TMP/log"
log "waiting until the WINS server knows LABSRV<20>"
wait_query "$WINS_IP" 0x0100 LABSRV 20 "$NS_IP"
PCAP_NQ2=$TMP/wins.pcap
capture_start "$PCAP_NQ2"
log "nmblookup -U $WINS_IP --recursion LABSRV#20, NOSUCH#20, LABGRP#1e"
nmblookup -s "$CLIENT_CONF" -U "$WINS_IP" --recursion 'LABSRV#20' >&2
nmblookup -s "$CLIENT_CONF" -U "$WINS_IP" --recursion 'NOSUCH#20' >&2 || true
nmblookup -s "$CLIENT_CONF" -U "$WINS_IP" --recursion 'LABGRP#1e' >&2 || true # 0.0.0.0 only: "failed"
capture_stop "$PCAP_NQ2"
payloads "$PCAP_NQ2" "$TMP/nq2.txt"
if [[ -n $KEEP_PCAP ]]; then
	cp -- "$PCAP_NQ1" "${KEEP_PCAP%.pcap}-namequery.pcap"
	cp -- "$PCAP_NQ2" "${KEEP_PCAP%.pcap}-wins.pcap"
fi

"$PY" - "$HOST_IP" "$NS_IP" "$WINS_IP" "$BCAST" "$TMP/nq1.txt" "$TMP/nq2.txt" "$NBNS_OUT" <<'PYEOF'
import struct, sys

def hexdump(b):
    """Exactly Go's encoding/hex.Dump."""
    out = []
    for off in range(0, len(b), 16):
        chunk = b[off:off + 16]
        line = "%08x  " % off
        for i in range(16):
            if i < len(chunk):
                line += "%02x " % chunk[i]
            else:
                line += "   "
            if i == 7:
                line += " "
        line += " |" + "".join(chr(c) if 32 <= c <= 126 else "." for c in chunk) + "|\n"
        out.append(line)
    return "".join(out)

me, host, wins, bcast, nq1, nq2, outdir = sys.argv[1:8]

def exchanges(path):
    """The datagrams grouped by TRN ID, in the order of first appearance."""
    groups = {}
    for line in open(path):
        f = line.split()
        if len(f) != 5:
            continue
        p = (f[0], int(f[1]), f[2], int(f[3]), bytes.fromhex(f[4].replace(":", "")))
        groups.setdefault(p[4][:2], []).append(p)
    return list(groups.values())

def flags(p):
    return struct.unpack(">H", p[4][2:4])[0]

def check(g, what, dst, qflags, rcode, responders):
    req, resps = g[0], g[1:]
    if req[0] != me or req[2] != dst or req[3] != 137 or flags(req) != qflags or len(req[4]) != 50:
        sys.exit("%s: first datagram %r is not our query to %s:137 with flags %#06x" % (what, req[:4], dst, qflags))
    if [r[0] for r in resps] != responders:
        sys.exit("%s: answers from %s, want %s" % (what, [r[0] for r in resps], responders))
    for r in resps:
        if r[1] != 137 or r[2] != me or r[3] != req[1] or not flags(r) & 0x8000 or flags(r) & 0x0F != rcode:
            sys.exit("%s: answer %r is not a response with rcode %d to our query" % (what, r[:4], rcode))

def write(name, g):
    path = "%s/%s" % (outdir, name)
    with open(path, "w") as f:
        for n, p in enumerate(g, 1):
            f.write(">>> Flow %d (%s)\n" % (n, "client to server" if p[0] == me else "server to client"))
            f.write(hexdump(p[4]))
    print("[capture-samba] wrote %s" % path, file=sys.stderr)

g1 = exchanges(nq1)
if len(g1) != 3:
    sys.exit("name queries to nmbd: %d exchanges, want 3" % len(g1))
check(g1[0], "unicast LABSRV<20>", host, 0x0000, 0, [host])
check(g1[1], "unicast NOSUCH<20>", host, 0x0000, 3, [host])
# nmbd, bound to 0.0.0.0:137 and to 198.18.0.255:137 (no "bind interfaces
# only"), hears a broadcast on both sockets and answers on each.
check(g1[2], "broadcast LABSRV<20>", bcast, 0x0110, 0, [host, host])
write("samba-namequery-unicast.hex", g1[0])
write("samba-namequery-unicast-negative.hex", g1[1])
write("samba-namequery-broadcast.hex", g1[2])

g2 = exchanges(nq2)
if len(g2) != 3:
    sys.exit("name queries to the WINS server: %d exchanges, want 3" % len(g2))
check(g2[0], "WINS LABSRV<20>", wins, 0x0100, 0, [wins])
check(g2[1], "WINS NOSUCH<20>", wins, 0x0100, 3, [wins])
check(g2[2], "WINS LABGRP<1E>", wins, 0x0100, 0, [wins])
write("samba-namequery-wins.hex", g2[0])
write("samba-namequery-wins-negative.hex", g2[1])
write("samba-namequery-wins-group.hex", g2[2])
PYEOF

log "done"
