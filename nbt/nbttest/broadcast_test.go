package nbttest

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestNetworkBroadcast checks, in virtual time, who gets a datagram sent
// to the Network's broadcast address: every conn bound to its port on
// every host, d later, but not the sender and not a conn on another
// port; and that the answers come back to the sender's own address.
func TestNetworkBroadcast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNetwork(delay)
		if got := n.BroadcastAddr(); got != netip.MustParseAddr("198.19.255.255") {
			t.Fatalf("BroadcastAddr() = %v", got)
		}
		sender := mustListenPacket(t, n, "198.18.0.9:137") // on the port too: it must not hear itself
		type got struct {
			at   time.Duration
			data string
		}
		start := time.Now()
		results := map[string]chan got{}
		listen := func(addr string) {
			pc := mustListenPacket(t, n, addr)
			ch := make(chan got, 4)
			results[addr] = ch
			go func() {
				buf := make([]byte, 100)
				for {
					k, from, err := pc.ReadFrom(buf)
					if err != nil {
						close(ch)
						return
					}
					ch <- got{time.Since(start), string(buf[:k])}
					pc.WriteTo([]byte("answer from "+addr), from)
				}
			}()
		}
		listen("198.18.0.2:137")
		listen("198.18.0.3:137")
		listen("198.18.0.3:138")

		bcast := net.UDPAddrFromAddrPort(netip.AddrPortFrom(n.BroadcastAddr(), 137))
		if _, err := sender.WriteTo([]byte("query"), bcast); err != nil {
			t.Fatal(err)
		}
		var answers []got
		sender.SetReadDeadline(time.Now().Add(time.Second))
		for {
			buf := make([]byte, 100)
			k, from, err := sender.ReadFrom(buf)
			if err != nil {
				if !errors.Is(err, net.ErrClosed) && !isTimeoutErr(err) {
					t.Fatal(err)
				}
				break
			}
			answers = append(answers, got{time.Since(start), string(buf[:k]) + " via " + from.String()})
		}
		slices.SortFunc(answers, func(a, b got) int { return strings.Compare(a.data, b.data) }) // sent at one instant
		want := []got{
			{2 * delay, "answer from 198.18.0.2:137 via 198.18.0.2:137"},
			{2 * delay, "answer from 198.18.0.3:137 via 198.18.0.3:137"},
		}
		if diff := cmp.Diff(want, answers, cmp.AllowUnexported(got{})); diff != "" {
			t.Errorf("answers at the sender (-want +got):\n%s", diff)
		}
		for addr, ch := range results {
			if addr == "198.18.0.3:138" {
				if len(ch) != 0 {
					t.Errorf("%s got the broadcast to port 137", addr)
				}
				continue
			}
			if g := <-ch; g != (got{delay, "query"}) {
				t.Errorf("%s got %+v, want the query at %v", addr, g, delay)
			}
		}
	})
}

func isTimeoutErr(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestNetworkListener checks the PacketListener adapter: an unspecified
// address is the client host, a given one is used as it is, the broadcast
// address can't be listened on, and a done context fails at once.
func TestNetworkListener(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNetwork(delay)
		l := n.Listener()
		for _, tt := range []struct{ addr, want string }{
			{"0.0.0.0:0", "198.18.0.1:49152"},
			{":0", "198.18.0.1:49153"},
			{"0.0.0.0:5000", "198.18.0.1:5000"},
			{"198.18.0.7:137", "198.18.0.7:137"},
		} {
			pc, err := l.ListenPacket(t.Context(), "udp4", tt.addr)
			if err != nil {
				t.Fatalf("ListenPacket(%q): %v", tt.addr, err)
			}
			defer pc.Close()
			if got := pc.LocalAddr().String(); got != tt.want {
				t.Errorf("ListenPacket(%q) is at %s, want %s", tt.addr, got, tt.want)
			}
		}
		if _, err := l.ListenPacket(t.Context(), "udp4", "198.19.255.255:137"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
			t.Errorf("listening on the broadcast address: %v, want EADDRNOTAVAIL", err)
		}
		if _, err := n.Listen("tcp4", "198.19.255.255:139"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
			t.Errorf("TCP listening on the broadcast address: %v, want EADDRNOTAVAIL", err)
		}
		if _, err := l.ListenPacket(t.Context(), "tcp4", "0.0.0.0:0"); err == nil {
			t.Error("ListenPacket on tcp4 succeeded")
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := l.ListenPacket(ctx, "udp4", "0.0.0.0:0"); !errors.Is(err, context.Canceled) {
			t.Errorf("ListenPacket with a done context: %v, want context.Canceled", err)
		}
	})
}
