package nbttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/nettest"
)

// delay is the one-way delay of the Networks of the virtual-time tests.
const delay = 10 * time.Millisecond

var (
	host1 = netip.MustParseAddrPort("198.18.0.2:139")
	// nowhere is an address that no host of the tests has.
	nowhere = netip.MustParseAddrPort("198.19.0.1:139")
)

// echo accepts connections on l and echoes what they send. When the test
// ends it closes l and the conns, so that no echo waits for a FIN still in
// flight: synctest.Test does not advance time once its function returns.
func echo(t *testing.T, l net.Listener) {
	var conns []net.Conn
	done := make(chan struct{})
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			go io.Copy(c, c)
		}
	}()
}

// echoPackets echoes the datagrams pc receives, until it closes; it closes
// pc when the test ends.
func echoPackets(t *testing.T, pc net.PacketConn) {
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
}

func mustListen(t *testing.T, n *Network, addr string) net.Listener {
	t.Helper()
	l, err := n.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func mustListenPacket(t *testing.T, n *Network, addr string) net.PacketConn {
	t.Helper()
	pc, err := n.ListenPacket("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

func mustDial(t *testing.T, n *Network, network string, addr netip.AddrPort) net.Conn {
	t.Helper()
	c, err := n.Dialer().DialContext(t.Context(), network, addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// connPair dials l and returns both ends.
func connPair(t *testing.T, n *Network, l net.Listener) (client, server net.Conn) {
	t.Helper()
	client = mustDial(t, n, "tcp4", l.Addr().(*net.TCPAddr).AddrPort())
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}

// readString reads len(want) bytes from c and fails unless they are want.
func readString(c net.Conn, want string) error {
	b := make([]byte, len(want))
	if _, err := io.ReadFull(c, b); err != nil {
		return err
	}
	if string(b) != want {
		return fmt.Errorf("read %q, want %q", b, want)
	}
	return nil
}

// TestNetworkTiming checks, in virtual time, when each thing happens on a
// Network: op runs after setup, and must take want and end with wantErr.
func TestNetworkTiming(t *testing.T) {
	const d = delay
	dial := func(n *Network, ctx context.Context, network string, addr netip.AddrPort) error {
		c, err := n.Dialer().DialContext(ctx, network, addr.String())
		if err == nil {
			c.Close()
		}
		return err
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T, n *Network) (op func() error)
		want    time.Duration
		wantErr error // matched with errors.Is; nil: none
		timeout bool  // the error is a net.Error whose Timeout is true
	}{
		{name: "connect", want: 2 * d, setup: func(t *testing.T, n *Network) func() error {
			echo(t, mustListen(t, n, host1.String()))
			return func() error { return dial(n, t.Context(), "tcp4", host1) }
		}},
		{name: "connect, network tcp", want: 2 * d, setup: func(t *testing.T, n *Network) func() error {
			echo(t, mustListen(t, n, host1.String()))
			return func() error { return dial(n, t.Context(), "tcp", host1) }
		}},
		{name: "echo round trip", want: 2 * d, setup: func(t *testing.T, n *Network) func() error {
			echo(t, mustListen(t, n, host1.String()))
			c := mustDial(t, n, "tcp4", host1)
			return func() error {
				if _, err := c.Write([]byte("ping")); err != nil {
					return err
				}
				return readString(c, "ping")
			}
		}},
		{name: "accept with the first bytes", want: 3 * d, setup: func(t *testing.T, n *Network) func() error {
			l := mustListen(t, n, host1.String())
			return func() error {
				c := mustDial(t, n, "tcp4", host1)
				if _, err := c.Write([]byte("first")); err != nil {
					return err
				}
				sc, err := l.Accept()
				if err != nil {
					return err
				}
				defer sc.Close()
				return readString(sc, "first")
			}
		}},
		{name: "refused", want: 2 * d, wantErr: syscall.ECONNREFUSED, setup: func(t *testing.T, n *Network) func() error {
			mustListen(t, n, "198.18.0.2:445")
			return func() error { return dial(n, t.Context(), "tcp4", host1) }
		}},
		{name: "refused by the client host", want: 2 * d, wantErr: syscall.ECONNREFUSED, setup: func(t *testing.T, n *Network) func() error {
			return func() error { return dial(n, t.Context(), "tcp4", netip.MustParseAddrPort("198.18.0.1:139")) }
		}},
		{name: "black hole until the deadline", want: time.Second, wantErr: context.DeadlineExceeded, timeout: true,
			setup: func(t *testing.T, n *Network) func() error {
				return func() error {
					ctx, cancel := context.WithTimeout(t.Context(), time.Second)
					defer cancel()
					return dial(n, ctx, "tcp4", nowhere)
				}
			}},
		{name: "black hole when the host is gone", want: time.Second, wantErr: context.DeadlineExceeded, timeout: true,
			setup: func(t *testing.T, n *Network) func() error {
				mustListen(t, n, host1.String()).Close()
				return func() error {
					ctx, cancel := context.WithTimeout(t.Context(), time.Second)
					defer cancel()
					return dial(n, ctx, "tcp4", host1)
				}
			}},
		{name: "connect cancelled", want: d / 2, wantErr: context.Canceled, setup: func(t *testing.T, n *Network) func() error {
			echo(t, mustListen(t, n, host1.String()))
			return func() error {
				ctx, cancel := context.WithCancel(t.Context())
				time.AfterFunc(d/2, cancel)
				return dial(n, ctx, "tcp4", host1)
			}
		}},
		{name: "connect past its deadline", want: 0, wantErr: context.DeadlineExceeded, setup: func(t *testing.T, n *Network) func() error {
			echo(t, mustListen(t, n, host1.String()))
			return func() error {
				ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
				defer cancel()
				return dial(n, ctx, "tcp4", host1)
			}
		}},
		{name: "EOF a delay after close", want: d, wantErr: io.EOF, setup: func(t *testing.T, n *Network) func() error {
			c, sc := connPair(t, n, mustListen(t, n, host1.String()))
			return func() error {
				c.Close()
				_, err := sc.Read(make([]byte, 1))
				return err
			}
		}},
		{name: "bytes before EOF", want: d, wantErr: io.EOF, setup: func(t *testing.T, n *Network) func() error {
			c, sc := connPair(t, n, mustListen(t, n, host1.String()))
			return func() error {
				c.Write([]byte("last words"))
				c.Close()
				b, err := io.ReadAll(sc)
				if string(b) != "last words" {
					return fmt.Errorf("read %q before EOF", b)
				}
				if err == nil {
					err = io.EOF
				}
				return err
			}
		}},
		{name: "read deadline", want: 50 * time.Millisecond, wantErr: os.ErrDeadlineExceeded, timeout: true,
			setup: func(t *testing.T, n *Network) func() error {
				c, _ := connPair(t, n, mustListen(t, n, host1.String()))
				return func() error {
					c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
					_, err := c.Read(make([]byte, 1))
					return err
				}
			}},
		{name: "past read deadline", want: 0, wantErr: os.ErrDeadlineExceeded, timeout: true,
			setup: func(t *testing.T, n *Network) func() error {
				c, _ := connPair(t, n, mustListen(t, n, host1.String()))
				return func() error {
					c.SetReadDeadline(time.Now().Add(-time.Second))
					_, err := c.Read(make([]byte, 1))
					return err
				}
			}},
		{name: "deadline moved while reading", want: 20 * time.Millisecond, wantErr: os.ErrDeadlineExceeded, timeout: true,
			setup: func(t *testing.T, n *Network) func() error {
				c, _ := connPair(t, n, mustListen(t, n, host1.String()))
				return func() error {
					c.SetReadDeadline(time.Now().Add(time.Hour))
					time.AfterFunc(10*time.Millisecond, func() { c.SetReadDeadline(time.Now().Add(10 * time.Millisecond)) })
					_, err := c.Read(make([]byte, 1))
					return err
				}
			}},
		{name: "past write deadline", want: 0, wantErr: os.ErrDeadlineExceeded, timeout: true,
			setup: func(t *testing.T, n *Network) func() error {
				c, _ := connPair(t, n, mustListen(t, n, host1.String()))
				return func() error {
					c.SetWriteDeadline(time.Now().Add(-time.Second))
					_, err := c.Write([]byte("x"))
					return err
				}
			}},
		{name: "write deadline with the window full", want: time.Second, wantErr: os.ErrDeadlineExceeded, timeout: true,
			setup: func(t *testing.T, n *Network) func() error {
				c, _ := connPair(t, n, mustListen(t, n, host1.String()))
				return func() error {
					c.SetWriteDeadline(time.Now().Add(time.Second))
					k, err := c.Write(make([]byte, TCPWindow+1))
					if k != TCPWindow {
						return fmt.Errorf("wrote %d bytes, want the window, %d", k, TCPWindow)
					}
					return err
				}
			}},
		{name: "close unblocks a read", want: 7 * time.Millisecond, wantErr: net.ErrClosed, setup: func(t *testing.T, n *Network) func() error {
			c, _ := connPair(t, n, mustListen(t, n, host1.String()))
			return func() error {
				time.AfterFunc(7*time.Millisecond, func() { c.Close() })
				_, err := c.Read(make([]byte, 1))
				return err
			}
		}},
		{name: "RST", want: d, wantErr: syscall.ECONNRESET, setup: func(t *testing.T, n *Network) func() error {
			c, sc := connPair(t, n, mustListen(t, n, host1.String()))
			return func() error {
				sc.(interface{ SetLinger(int) error }).SetLinger(0)
				sc.Close()
				_, err := c.Read(make([]byte, 1))
				return err
			}
		}},
		{name: "bytes before the RST", want: d, wantErr: syscall.ECONNRESET, setup: func(t *testing.T, n *Network) func() error {
			c, sc := connPair(t, n, mustListen(t, n, host1.String()))
			return func() error {
				sc.Write([]byte("bye"))
				sc.(interface{ SetLinger(int) error }).SetLinger(0)
				sc.Close()
				if err := readString(c, "bye"); err != nil {
					return err
				}
				_, err := c.Read(make([]byte, 1))
				return err
			}
		}},
		{name: "write after the RST", want: d, wantErr: syscall.ECONNRESET, setup: func(t *testing.T, n *Network) func() error {
			c, sc := connPair(t, n, mustListen(t, n, host1.String()))
			return func() error {
				sc.(interface{ SetLinger(int) error }).SetLinger(0)
				sc.Close()
				if _, err := c.Write([]byte("x")); err != nil {
					return fmt.Errorf("write before the RST arrived: %v", err)
				}
				c.Read(make([]byte, 1)) // until the RST
				_, err := c.Write([]byte("x"))
				return err
			}
		}},
		{name: "listener close resets a conn not accepted", want: d, wantErr: syscall.ECONNRESET, setup: func(t *testing.T, n *Network) func() error {
			l := mustListen(t, n, host1.String())
			c := mustDial(t, n, "tcp4", host1)
			time.Sleep(d) // virtual: the ACK reaches the listener
			return func() error {
				l.Close()
				_, err := c.Read(make([]byte, 1))
				return err
			}
		}},
		{name: "UDP round trip", want: 2 * d, setup: func(t *testing.T, n *Network) func() error {
			echoPackets(t, mustListenPacket(t, n, "198.18.0.2:137"))
			return func() error {
				c := mustDial(t, n, "udp4", netip.MustParseAddrPort("198.18.0.2:137"))
				if _, err := c.Write([]byte("query")); err != nil {
					return err
				}
				return readString(c, "query")
			}
		}},
		{name: "UDP port unreachable", want: 2 * d, wantErr: syscall.ECONNREFUSED, setup: func(t *testing.T, n *Network) func() error {
			mustListen(t, n, host1.String()) // the host exists; UDP 137 is closed
			return func() error {
				c := mustDial(t, n, "udp4", netip.MustParseAddrPort("198.18.0.2:137"))
				c.Write([]byte("query"))
				_, err := c.Read(make([]byte, 100))
				return err
			}
		}},
		{name: "UDP port unreachable, read later", want: time.Second, wantErr: syscall.ECONNREFUSED, setup: func(t *testing.T, n *Network) func() error {
			mustListen(t, n, host1.String())
			return func() error {
				c := mustDial(t, n, "udp4", netip.MustParseAddrPort("198.18.0.2:137"))
				c.Write([]byte("query"))
				time.Sleep(time.Second)
				_, err := c.Read(make([]byte, 100))
				return err
			}
		}},
		{name: "UDP port unreachable is reported once", want: time.Second, wantErr: os.ErrDeadlineExceeded, timeout: true,
			setup: func(t *testing.T, n *Network) func() error {
				mustListen(t, n, host1.String())
				return func() error {
					c := mustDial(t, n, "udp4", netip.MustParseAddrPort("198.18.0.2:137"))
					c.Write([]byte("query"))
					c.SetReadDeadline(time.Now().Add(time.Second))
					if _, err := c.Read(make([]byte, 100)); !errors.Is(err, syscall.ECONNREFUSED) {
						return fmt.Errorf("first read: %v, want ECONNREFUSED", err)
					}
					_, err := c.Read(make([]byte, 100))
					return err
				}
			}},
		{name: "UDP black hole", want: time.Second, wantErr: os.ErrDeadlineExceeded, timeout: true,
			setup: func(t *testing.T, n *Network) func() error {
				return func() error {
					c := mustDial(t, n, "udp4", netip.AddrPortFrom(nowhere.Addr(), 137))
					c.Write([]byte("query"))
					c.SetReadDeadline(time.Now().Add(time.Second))
					_, err := c.Read(make([]byte, 100))
					return err
				}
			}},
		{name: "UDP from another port dropped", want: 2 * d, setup: func(t *testing.T, n *Network) func() error {
			pc := mustListenPacket(t, n, "198.18.0.2:137")
			rogue := mustListenPacket(t, n, "198.18.0.2:0")
			go func() {
				buf := make([]byte, 100)
				_, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				rogue.WriteTo([]byte("forged"), from)
				pc.WriteTo([]byte("answer"), from)
			}()
			return func() error {
				c := mustDial(t, n, "udp4", netip.MustParseAddrPort("198.18.0.2:137"))
				c.Write([]byte("query"))
				return readString(c, "answer")
			}
		}},
		{name: "UDP unconnected ignores port unreachable", want: time.Second, wantErr: os.ErrDeadlineExceeded, timeout: true,
			setup: func(t *testing.T, n *Network) func() error {
				pc := mustListenPacket(t, n, "198.18.0.3:137")
				mustListen(t, n, host1.String())
				return func() error {
					pc.WriteTo([]byte("query"), net.UDPAddrFromAddrPort(netip.MustParseAddrPort("198.18.0.2:137")))
					pc.SetReadDeadline(time.Now().Add(time.Second))
					_, _, err := pc.ReadFrom(make([]byte, 100))
					return err
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := NewNetwork(delay)
				op := tt.setup(t, n)
				start := time.Now()
				err := op()
				if got := time.Since(start); got != tt.want {
					t.Errorf("took %v, want %v", got, tt.want)
				}
				switch {
				case tt.wantErr == nil && err != nil:
					t.Fatalf("error %v, want none", err)
				case tt.wantErr == nil:
					return
				case !errors.Is(err, tt.wantErr):
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr != io.EOF {
					if _, ok := errors.AsType[*net.OpError](err); !ok {
						t.Errorf("error %T, want a *net.OpError", err)
					}
				}
				if ne, ok := err.(net.Error); tt.timeout && (!ok || !ne.Timeout()) {
					t.Errorf("error %v is not a timeout", err)
				}
			})
		})
	}
}

// TestNetworkConnects checks the count of connects, and that a connect
// cancelled before the SYN-ACK is never accepted.
func TestNetworkConnects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNetwork(delay)
		l := mustListen(t, n, host1.String())
		mustListen(t, n, "198.18.0.3:445")
		accepted := make(chan net.Conn, 10)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					close(accepted)
					return
				}
				accepted <- c
			}
		}()
		refused := netip.MustParseAddrPort("198.18.0.3:139")
		for range 3 {
			mustDial(t, n, "tcp4", host1)
		}
		for _, a := range []netip.AddrPort{refused, refused, nowhere} {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			if _, err := n.Dialer().DialContext(ctx, "tcp4", a.String()); err == nil {
				t.Errorf("dial %v: no error", a)
			}
			cancel()
		}
		ctx, cancel := context.WithTimeout(t.Context(), delay) // before the SYN-ACK
		if _, err := n.Dialer().DialContext(ctx, "tcp4", host1.String()); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("dial cancelled before the SYN-ACK: %v", err)
		}
		cancel()
		time.Sleep(time.Second) // virtual: all that was sent has arrived
		l.Close()
		got := map[netip.AddrPort]int{}
		for _, a := range []netip.AddrPort{host1, refused, nowhere, netip.MustParseAddrPort("198.18.0.3:445")} {
			got[a] = n.Connects(a)
		}
		want := map[netip.AddrPort]int{host1: 4, refused: 2, nowhere: 1, netip.MustParseAddrPort("198.18.0.3:445"): 0}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Connects (-want +got):\n%s", diff)
		}
		k := 0
		for c := range accepted {
			c.Close()
			k++
		}
		if k != 3 {
			t.Errorf("accepted %d conns, want 3: the cancelled connect is never accepted", k)
		}
	})
}

// TestNetworkAddrs checks the addresses of conns and the errors of bad
// ones.
func TestNetworkAddrs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNetwork(delay)
		l := mustListen(t, n, host1.String())
		c, sc := connPair(t, n, l)
		pc := mustListenPacket(t, n, "198.18.0.2:137")
		uc := mustDial(t, n, "udp4", netip.MustParseAddrPort("198.18.0.2:137"))
		el := mustListen(t, n, "198.18.0.2:0")
		epc := mustListenPacket(t, n, "198.18.0.2:0")

		str := func(a net.Addr) string {
			if a == nil {
				return "<nil>"
			}
			return fmt.Sprintf("%T %v", a, a)
		}
		got := []string{
			str(l.Addr()), str(c.LocalAddr()), str(c.RemoteAddr()), str(sc.LocalAddr()), str(sc.RemoteAddr()),
			str(pc.LocalAddr()), str(pc.(net.Conn).RemoteAddr()), str(uc.LocalAddr()), str(uc.RemoteAddr()),
			str(el.Addr()), str(epc.LocalAddr()),
		}
		want := []string{
			"*net.TCPAddr 198.18.0.2:139", "*net.TCPAddr 198.18.0.1:49152", "*net.TCPAddr 198.18.0.2:139",
			"*net.TCPAddr 198.18.0.2:139", "*net.TCPAddr 198.18.0.1:49152",
			"*net.UDPAddr 198.18.0.2:137", "<nil>", "*net.UDPAddr 198.18.0.1:49153", "*net.UDPAddr 198.18.0.2:137",
			"*net.TCPAddr 198.18.0.2:49154", "*net.UDPAddr 198.18.0.2:49155",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("addresses (-want +got):\n%s", diff)
		}

		errTests := []struct {
			name string
			err  func() error
			want error
		}{
			{"listen outside the network", func() error { _, err := n.Listen("tcp4", "127.0.0.1:139"); return err }, errNotOnNetwork},
			{"listen twice", func() error { _, err := n.Listen("tcp4", host1.String()); return err }, syscall.EADDRINUSE},
			{"listen packet twice", func() error { _, err := n.ListenPacket("udp4", "198.18.0.2:137"); return err }, syscall.EADDRINUSE},
			{"dial outside the network", func() error {
				_, err := n.Dialer().DialContext(t.Context(), "tcp4", "127.0.0.1:139")
				return err
			}, errNotOnNetwork},
			{"dial UDP outside the network", func() error {
				_, err := n.Dialer().DialContext(t.Context(), "udp4", "127.0.0.1:137")
				return err
			}, errNotOnNetwork},
			{"write to outside the network", func() error {
				_, err := pc.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 137})
				return err
			}, errNotOnNetwork},
			{"write to on a connected conn", func() error {
				_, err := uc.(net.PacketConn).WriteTo([]byte("x"), pc.LocalAddr())
				return err
			}, net.ErrWriteToConnected},
		}
		for _, tt := range errTests {
			if err := tt.err(); !errors.Is(err, tt.want) {
				t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
			}
		}
		for _, network := range []string{"tcp6", "ip4", "unix"} {
			_, err := n.Dialer().DialContext(t.Context(), network, host1.String())
			if _, ok := errors.AsType[net.UnknownNetworkError](err); !ok {
				t.Errorf("dial %s: %v, want an UnknownNetworkError", network, err)
			}
		}
		if _, err := n.Dialer().DialContext(t.Context(), "tcp4", "nbtsrv:139"); err == nil {
			t.Error("dial of a host name: no error")
		}
	})
}

// TestNetworkClose checks that every conn and listener closes once and
// reports net.ErrClosed after.
func TestNetworkClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNetwork(delay)
		l := mustListen(t, n, host1.String())
		c, _ := connPair(t, n, l)
		pc := mustListenPacket(t, n, "198.18.0.2:137")
		uc := mustDial(t, n, "udp4", netip.MustParseAddrPort("198.18.0.2:137"))
		for _, x := range []io.Closer{l, c, pc, uc} {
			if err := x.Close(); err != nil {
				t.Errorf("%T: Close: %v", x, err)
			}
			if err := x.Close(); !errors.Is(err, net.ErrClosed) {
				t.Errorf("%T: second Close: %v, want net.ErrClosed", x, err)
			}
		}
		ops := map[string]func() error{
			"Accept":      func() error { _, err := l.Accept(); return err },
			"Read":        func() error { _, err := c.Read(make([]byte, 1)); return err },
			"Write":       func() error { _, err := c.Write([]byte("x")); return err },
			"SetDeadline": func() error { return c.SetDeadline(time.Time{}) },
			"SetLinger":   func() error { return c.(interface{ SetLinger(int) error }).SetLinger(0) },
			"ReadFrom":    func() error { _, _, err := pc.ReadFrom(make([]byte, 1)); return err },
			"WriteTo":     func() error { _, err := pc.WriteTo([]byte("x"), uc.LocalAddr()); return err },
			"UDP Read":    func() error { _, err := uc.Read(make([]byte, 1)); return err },
			"UDP Write":   func() error { _, err := uc.Write([]byte("x")); return err },
		}
		for name, op := range ops {
			if err := op(); !errors.Is(err, net.ErrClosed) {
				t.Errorf("%s after Close: %v, want net.ErrClosed", name, err)
			}
		}
		// The host is gone, and its ports are free again.
		mustListen(t, n, host1.String())
		mustListenPacket(t, n, "198.18.0.2:137")
	})
}

// TestNetworkStream sends 1 MiB each way at once through the window, in
// virtual time, and checks that it arrives whole and in order.
func TestNetworkStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := NewNetwork(delay)
		c, sc := connPair(t, n, mustListen(t, n, host1.String()))
		data := make([]byte, 1<<20)
		for i := range data {
			data[i] = byte(i * 7 / 3)
		}
		errc := make(chan error, 2)
		for _, w := range []net.Conn{c, sc} {
			go func() {
				for b := data; len(b) > 0; b = b[min(len(b), 3000):] {
					if _, err := w.Write(b[:min(len(b), 3000)]); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
		}
		for _, r := range []net.Conn{c, sc} {
			got := make([]byte, len(data))
			if _, err := io.ReadFull(r, got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Error("the stream arrived changed")
			}
		}
		for range 2 {
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestNetworkConn proves that the TCP conns of a Network keep the net.Conn
// contract, in real time with no delay.
func TestNetworkConn(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		n := NewNetwork(0)
		l, err := n.Listen("tcp4", host1.String())
		if err != nil {
			return nil, nil, nil, err
		}
		defer l.Close()
		c1, err = n.Dialer().DialContext(context.Background(), "tcp4", host1.String())
		if err != nil {
			return nil, nil, nil, err
		}
		if c2, err = l.Accept(); err != nil {
			c1.Close()
			return nil, nil, nil, err
		}
		return c1, c2, func() { c1.Close(); c2.Close() }, nil
	})
}
