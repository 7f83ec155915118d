// Command scan-responder is the peer of .ci/scan-bench: one process on
// 0.0.0.0:137 that answers a node status query to any 127.x.y.z, from the
// address the query was sent to (IP_PKTINFO, through x/net/ipv4's control
// messages), as if each of those 16 million addresses were a host. It
// reads and writes in batches (recvmmsg and sendmmsg).
//
//	scan-responder [-addr 0.0.0.0:137] [-drop 0.1] [-seed N] [-ready FIFO]
//
// Every answer lists five names, as a Samba host does: N<x><y><z><00>,
// <03> and <20> unique, the computer name being "N" and the last three
// octets of the address in decimal, three digits each; WORKGROUP<00> and
// <1E> group; and the MAC address 02:00:7f:x:y:z. With -drop P, each answer
// is dropped with probability P, at random. With -ready, "ready" is written
// to that file (a FIFO the caller reads) once the socket is bound.
//
// It runs until SIGINT or SIGTERM, then prints on standard output one line:
//
//	queries N distinct N answered N dropped N ignored N errors N
//
// queries counts the datagrams read, distinct the addresses queried at
// least once, answered the answers sent, dropped those dropped on purpose,
// ignored the datagrams that were not a wildcard node status request to
// 127/8, errors the answers the socket refused.
//
// It exists for the benchmark only: it never sends anything but answers,
// and only from loopback addresses, to the source of a query.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/net/ipv4"

	"github.com/netbios-go/netbios/nbns"
)

// batch is how many datagrams one recvmmsg or sendmmsg moves at most.
const batch = 64

func main() {
	addr := flag.String("addr", "0.0.0.0:137", "UDP `address` to listen on")
	drop := flag.Float64("drop", 0, "drop each answer with this `probability`")
	seed := flag.Uint64("seed", 0, "seed of the drops; 0 for a random one")
	ready := flag.String("ready", "", "write \"ready\" to this `file` once listening")
	flag.Parse()
	if *drop < 0 || *drop >= 1 {
		fmt.Fprintln(os.Stderr, "scan-responder: -drop must be in [0, 1)")
		os.Exit(2)
	}
	c, err := net.ListenPacket("udp4", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scan-responder:", err)
		os.Exit(1)
	}
	if uc, ok := c.(*net.UDPConn); ok {
		uc.SetReadBuffer(4 << 20)
		uc.SetWriteBuffer(4 << 20)
	}
	p := ipv4.NewPacketConn(c)
	if err := p.SetControlMessage(ipv4.FlagDst, true); err != nil {
		fmt.Fprintln(os.Stderr, "scan-responder:", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		c.Close() // ends serve
	}()
	if *ready != "" {
		if err := os.WriteFile(*ready, []byte("ready\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "scan-responder:", err)
			os.Exit(1)
		}
	}
	var rng *rand.Rand
	if *drop > 0 {
		if *seed == 0 {
			*seed = rand.Uint64()
		}
		rng = rand.New(rand.NewPCG(*seed, *seed^0x9e3779b97f4a7c15))
	}
	st := serve(p, *drop, rng)
	fmt.Printf("queries %d distinct %d answered %d dropped %d ignored %d errors %d\n",
		st.queries, st.distinct, st.answered, st.dropped, st.ignored, st.errors)
}

type stats struct {
	queries, distinct, answered, dropped, ignored, errors int
}

// serve answers queries until the socket is closed.
func serve(p *ipv4.PacketConn, drop float64, rng *rand.Rand) stats {
	var st stats
	seen := make([]uint64, 1<<24/64) // 127.0.0.0/8, one bit an address
	in := make([]ipv4.Message, batch)
	out := make([]ipv4.Message, batch)
	outBufs := make([][]byte, batch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, 1500)}
		in[i].OOB = ipv4.NewControlMessage(ipv4.FlagDst)
		outBufs[i] = make([]byte, 0, 512)
		out[i].Buffers = make([][]byte, 1)
	}
	tmpl := template()
	for {
		n, err := p.ReadBatch(in, 0)
		if err != nil {
			return st
		}
		k := 0
		for i := range n {
			m := &in[i]
			st.queries++
			var cm ipv4.ControlMessage
			if cm.Parse(m.OOB[:m.NN]) != nil {
				st.ignored++
				continue
			}
			dst := cm.Dst.To4()
			if dst == nil || dst[0] != 127 || !isWildcardQuery(m.Buffers[0][:m.N]) {
				st.ignored++
				continue
			}
			bit := uint32(dst[1])<<16 | uint32(dst[2])<<8 | uint32(dst[3])
			if seen[bit/64]&(1<<(bit%64)) == 0 {
				seen[bit/64] |= 1 << (bit % 64)
				st.distinct++
			}
			if rng != nil && rng.Float64() < drop {
				st.dropped++
				continue
			}
			b := append(outBufs[k][:0], tmpl...)
			fill(b, binary.BigEndian.Uint16(m.Buffers[0]), dst)
			out[k].Buffers[0] = b
			out[k].OOB = (&ipv4.ControlMessage{Src: dst}).Marshal()
			out[k].Addr = m.Addr
			k++
		}
		for sent := 0; sent < k; {
			w, err := p.WriteBatch(out[sent:k], 0)
			if err != nil {
				st.errors++
				w = max(w, 1) // skip the answer that failed
			}
			sent += w
			st.answered += w
		}
	}
}

// wildcardQuery is a node status request for "*<00>" without scope, ID
// and flags left out.
var wildcardQuery = func() []byte {
	b, err := (&nbns.NodeStatusRequest{Name: nbns.Wildcard()}).MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}()

// isWildcardQuery reports whether b is a node status request for "*<00>"
// without scope, whatever its ID and flags (nbtscan sets B).
func isWildcardQuery(b []byte) bool {
	return len(b) == len(wildcardQuery) && b[2]&0xF8 == 0 && string(b[4:]) == string(wildcardQuery[4:])
}

// Offsets in the answer template: the computer name in the first three
// entries, and the MAC address.
const (
	namesOff = nbns.HeaderLen + 34 + 10 + 1 // header, RR_NAME, type to RDLENGTH, NUM_NAMES
	macOff   = namesOff + 5*nbns.NodeNameLen
)

// template returns the answer to a wildcard query, to be filled in by
// fill.
func template() []byte {
	computer := nbns.MustName("N000000000", nbns.Workstation)
	group := nbns.MustName("WORKGROUP", nbns.Workstation)
	r := nbns.NodeStatusResponse{
		Header: nbns.Header{Authoritative: true},
		Name:   nbns.Wildcard(),
		Names: []nbns.NodeName{
			{Name: computer, Flags: nbns.FlagActive},
			{Name: computer.WithSuffix(nbns.Messenger), Flags: nbns.FlagActive},
			{Name: computer.WithSuffix(nbns.FileServer), Flags: nbns.FlagActive},
			{Name: group, Flags: nbns.FlagGroup | nbns.FlagActive},
			{Name: group.WithSuffix(nbns.BrowserElection), Flags: nbns.FlagGroup | nbns.FlagActive},
		},
		Statistics: nbns.Statistics{UnitID: [6]byte{0x02, 0x00, 0x7f}},
	}
	b, err := r.MarshalBinary()
	if err != nil {
		panic(err)
	}
	return b
}

// fill sets the transaction ID, the computer name and the MAC address of
// an answer from dst.
func fill(b []byte, id uint16, dst net.IP) {
	binary.BigEndian.PutUint16(b, id)
	for e := range 3 {
		off := namesOff + e*nbns.NodeNameLen + 1 // after the "N"
		for j, o := range dst[1:4] {
			b[off+3*j] = '0' + o/100
			b[off+3*j+1] = '0' + o/10%10
			b[off+3*j+2] = '0' + o%10
		}
	}
	copy(b[macOff+3:macOff+6], dst[1:4])
}
