//go:build unix

package nbt_test

// Hardening benchmark of issue 7: the memory an idle conn holds, measured
// against a peer in another process.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

// memoryHelperEnv makes the test binary, run again by
// BenchmarkIdleConnMemory, serve as its peer instead of testing.
const memoryHelperEnv = "NBT_MEMORY_HELPER"

// memoryHelperReady starts the line the helper prints when it listens:
// the session service, the name service and a raw TCP port follow it.
const memoryHelperReady = "MEMORY HELPER READY "

// TestMemoryHelperProcess is not a test: BenchmarkIdleConnMemory runs
// the test binary as a separate process with it, so that the peer's memory
// is not counted with the client's. It serves an nbttest host whose
// sessions stay open, reading nothing, until the client closes them, and a
// TCP port that does the same for raw connections, until its stdin
// closes.
func TestMemoryHelperProcess(t *testing.T) {
	if os.Getenv(memoryHelperEnv) == "" {
		t.Skip("a helper process of BenchmarkIdleConnMemory")
	}
	s := nbttest.NewServer(nbttest.HandlerFunc(func(session.Request) nbttest.Response {
		return nbttest.Response{Serve: func(c *session.Conn) {
			var b [1]byte
			c.Read(b[:]) // returns when the client closes
		}}
	}))
	defer s.Close()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				var b [1]byte
				c.Read(b[:])
				c.Close()
			}()
		}
	}()
	fmt.Printf("%s%s %s %s\n", memoryHelperReady, s.Addr, s.NameAddr, ln.Addr())
	eof := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case <-eof:
	case <-time.After(10 * time.Minute):
	}
}

// startMemoryHelper starts TestMemoryHelperProcess and returns its
// session service, name service and raw TCP addresses.
func startMemoryHelper(b *testing.B) (sess, names, raw netip.AddrPort) {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestMemoryHelperProcess$")
	cmd.Env = append(os.Environ(), memoryHelperEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	b.Cleanup(func() {
		stdin.Close() // the helper exits when its stdin closes
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	ready := make(chan string, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), memoryHelperReady); ok {
				ready <- rest
			}
		}
		cmd.Wait()
	}()
	var line string
	select {
	case line = <-ready:
	case <-exited:
		b.Fatalf("the helper exited before it was ready: %v", cmd.ProcessState)
	case <-time.After(15 * time.Second):
		b.Fatal("the helper was not ready after 15 s")
	}
	f := strings.Fields(line)
	if len(f) != 3 {
		b.Fatalf("helper said %q", line)
	}
	for i, p := range []*netip.AddrPort{&sess, &names, &raw} {
		if *p, err = netip.ParseAddrPort(f[i]); err != nil {
			b.Fatalf("helper said %q: %v", line, err)
		}
	}
	return sess, names, raw
}

// memoryInUse returns, after a full collection, the heap bytes in use (whole
// spans, so fragmentation included), the bytes of live heap objects, and
// the stack bytes in use.
func memoryInUse() (inuse, live, stack uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, m.HeapAlloc, m.StackInuse
}

// BenchmarkIdleConnMemory measures the memory an idle established conn
// holds on the client: it opens 1,000 conns to a peer in another process
// (TestMemoryHelperProcess), so that only the client's memory is
// counted, and reports the growth per conn of HeapInuse (B/conn), of the
// live heap objects, HeapAlloc (live-B/conn), and of StackInuse:
// for plain TCP conns, the baseline, and for NetBIOS sessions through a
// Dialer with each policy. "Race uncached" keeps the name cache off, so
// every conn carries its node status table and its list of attempts. The
// "in-process" run keeps an nbttest host in this process, so it counts the
// host's side (a goroutine and a session.Conn per conn) as well. Kernel
// socket buffers are not in these numbers.
func BenchmarkIdleConnMemory(b *testing.B) {
	const n = 1000
	sess, names, raw := startMemoryHelper(b)
	local := nbttest.NewServer(nbttest.HandlerFunc(func(session.Request) nbttest.Response {
		return nbttest.Response{Serve: func(c *session.Conn) {
			var b [1]byte
			c.Read(b[:])
		}}
	}))
	defer local.Close()

	dialer := func(p nbt.Policy, cached bool, nameAddr netip.AddrPort) *nbt.Dialer {
		d := &nbt.Dialer{
			Policy:          p,
			NameServicePort: nameAddr.Port(),
			NameService:     &nbns.Client{Timeout: time.Second, Attempts: 3},
			Cache:           nbt.NewNameCache(nbt.DefaultNameCacheTTL),
			Timeout:         10 * time.Second,
		}
		if !cached {
			d.Cache = nbt.NewNameCache(0)
		}
		return d
	}
	nbtDial := func(d *nbt.Dialer, addr netip.AddrPort) func(context.Context) (net.Conn, error) {
		return func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr.String()) }
	}
	var nd net.Dialer
	tests := []struct {
		name string
		dial func(context.Context) (net.Conn, error)
	}{
		{"raw TCP", func(ctx context.Context) (net.Conn, error) { return nd.DialContext(ctx, "tcp4", raw.String()) }},
		{"Race", nbtDial(dialer(nbt.Race, true, names), sess)},
		{"Race uncached", nbtDial(dialer(nbt.Race, false, names), sess)},
		{"PreSP5", nbtDial(dialer(nbt.PreSP5, true, names), sess)},
		{"SP5 uncached", nbtDial(dialer(nbt.SP5, false, names), sess)},
		{"in-process/Race", nbtDial(dialer(nbt.Race, true, local.NameAddr), local.Addr)},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			conns := make([]net.Conn, 0, n)
			var inuse, live, stack float64
			runs := 0
			for b.Loop() {
				i0, l0, s0 := memoryInUse()
				for range n {
					c, err := tt.dial(b.Context())
					if err != nil {
						b.Fatal(err)
					}
					conns = append(conns, c)
				}
				i1, l1, s1 := memoryInUse()
				inuse += (float64(i1) - float64(i0)) / n
				live += (float64(l1) - float64(l0)) / n
				stack += (float64(s1) - float64(s0)) / n
				runs++
				for _, c := range conns {
					c.Close()
				}
				clear(conns)
				conns = conns[:0]
			}
			b.ReportMetric(inuse/float64(runs), "B/conn")
			b.ReportMetric(live/float64(runs), "live-B/conn")
			b.ReportMetric(stack/float64(runs), "stack-B/conn")
		})
	}
}
