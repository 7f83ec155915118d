package session

// Property tests of the three read views of a Conn (transparent Read,
// Payload, ReadMessage) and of the transparent Write, over random streams
// of session messages with keep-alives between them, written and read in
// random sizes over net.Pipe and loopback TCP. Every test logs its seed;
// -session.seed=N replays it.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
)

var seedFlag = flag.Uint64("session.seed", 0, "seed of the random stream tests; 0 picks a new one")

// testSeed returns the seed of a random test, and logs it.
func testSeed(t testing.TB) uint64 {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (replay with -session.seed=%d)", seed, seed)
	return seed
}

// keepAlive is a SESSION KEEP ALIVE on the wire (RFC 1002 §4.3.7).
var keepAlive = []byte{byte(TypeKeepAlive), 0x00, 0x00, 0x00}

// message returns the session message carrying payload, header included.
func message(payload []byte) []byte {
	b, err := Header{Type: TypeMessage, Length: len(payload)}.AppendBinary(nil)
	if err != nil {
		panic(err)
	}
	return append(b, payload...)
}

// counting returns n bytes 0, 1, 2, ... (mod 251), easy to tell apart.
func counting(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// fillRandom fills p with random bytes.
func fillRandom(r *rand.Rand, p []byte) {
	for i := range p {
		p[i] = byte(r.Uint32())
	}
}

// sessionStream is a stream of session messages as a peer sends them, with
// keep-alives between messages, and what each read view of a Conn must
// return from it.
type sessionStream struct {
	wire     []byte   // the bytes on the wire, keep-alives included
	messages []byte   // wire without the keep-alives: the transparent view
	payloads [][]byte // each message's payload: ReadMessage, one per call
}

// buildStream lays out the payloads as session messages with ka[i]
// keep-alives before message i, and ka[len(payloads)] after the last one.
func buildStream(ka []int, payloads [][]byte) sessionStream {
	var s sessionStream
	for i := range len(payloads) + 1 {
		if i < len(ka) {
			for range ka[i] {
				s.wire = append(s.wire, keepAlive...)
			}
		}
		if i == len(payloads) {
			break
		}
		m := message(payloads[i])
		s.wire = append(s.wire, m...)
		s.messages = append(s.messages, m...)
		s.payloads = append(s.payloads, payloads[i])
	}
	return s
}

// payloadBytes is the payload view of the stream: the payloads in a row.
func (s sessionStream) payloadBytes() []byte { return bytes.Join(s.payloads, nil) }

// randLength returns a random payload length of at most limit: empty,
// small, around the 16-bit boundary where the E bit starts, or anything up
// to 70000.
func randLength(r *rand.Rand, limit int) int {
	var n int
	switch r.IntN(7) {
	case 0:
		n = 0
	case 1:
		n = 1 + r.IntN(16)
	case 2:
		n = r.IntN(1500)
	case 3:
		n = 0xFFFE + r.IntN(4) // 0xFFFE..0x10001: the E bit goes on at 0x10000
	case 4:
		n = r.IntN(70000)
	default:
		n = r.IntN(300)
	}
	return min(n, limit)
}

// randStream returns up to 12 random messages of at most budget bytes in
// all, with 0 to 3 keep-alives at every position between them.
func randStream(r *rand.Rand, budget int) sessionStream {
	var payloads [][]byte
	ka := make([]int, 0, 13)
	for range r.IntN(13) {
		p := make([]byte, randLength(r, budget))
		budget -= len(p)
		fillRandom(r, p)
		payloads = append(payloads, p)
	}
	for range len(payloads) + 1 {
		ka = append(ka, r.IntN(4))
	}
	return buildStream(ka, payloads)
}

// diffBytes returns "" when got equals want, or else the lengths, the first
// offset where they differ, and a cmp.Diff "(-want +got)" of the bytes
// around it: streams are too long to print whole.
func diffBytes(want, got []byte) string {
	if bytes.Equal(want, got) {
		return ""
	}
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	lo := max(i-8, 0)
	return fmt.Sprintf("got %d bytes, want %d; first difference at offset %d; bytes %d.. (-want +got):\n%s",
		len(got), len(want), i, lo, cmp.Diff(want[lo:min(len(want), i+24)], got[lo:min(len(got), i+24)]))
}

// A collector reads a Conn through one of its views until an error, and
// keeps what it read across calls, so that a read can be resumed after a
// timeout.
type collector interface {
	drain(c *Conn) error
	result() any
}

// streamReader reads with Read (the transparent view) or through
// Payload, with a random size for each call between 1 and maxRead. With
// fill set, it checks after each call that the call filled its buffer.
type streamReader struct {
	payload bool
	r       *rand.Rand
	maxRead int
	fill    *fillCheck
	buf     []byte
	out     []byte
}

// countingConn counts the bytes read from a net.Conn, and notes the size
// of the first Read since first was set to -1.
type countingConn struct {
	net.Conn
	n     int
	first int
}

func (c *countingConn) Read(p []byte) (int, error) {
	if c.first < 0 {
		c.first = len(p)
	}
	n, err := c.Conn.Read(p)
	c.n += n
	return n, err
}

// fillModel follows a stream of session messages and keep-alives, as a
// prefix of it grows, and says what a read view that fills its buffers
// must have returned from the prefix: every byte of it, less the
// keep-alives, less the message headers for the payload view, and less
// the start of a header at its end, which may be a keep-alive's. It stops
// at a packet of another type: the bytes before it, no more.
type fillModel struct {
	wire    []byte
	payload bool
	at      int // the start of the packet the prefix ends in, or after
	before  int // bytes returned from the packets before at
}

// count returns how many bytes the view must have returned from
// wire[:u], and how many at its end it holds back. u never decreases.
func (m *fillModel) count(u int) (out, held int) {
	for {
		if u-m.at < HeaderLen {
			return m.before, u - m.at
		}
		v := binary.BigEndian.Uint32(m.wire[m.at:])
		switch {
		case v == uint32(TypeKeepAlive)<<24:
			m.at += HeaderLen
			continue
		case v>>24 != uint32(TypeMessage):
			return m.before, 0
		}
		hdr, end := HeaderLen, m.at+HeaderLen+int(v&0xFFFFFF)
		if m.payload {
			hdr = 0
		}
		if u < end {
			return m.before + hdr + u - m.at - HeaderLen, 0
		}
		m.before += hdr + end - m.at - HeaderLen
		m.at = end
	}
}

// fillCheck checks each Read of a Conn over conn against model: a Read
// with room for a header (smaller ones may take a header whole into the
// conn, and hand it out in pieces) returns every byte the model says it
// must, and its first read of conn offers all of its buffer, less the
// bytes it held back before.
type fillCheck struct {
	conn  *countingConn
	model fillModel
	err   error
}

// read calls read(p) and checks it, given out, the bytes returned so far.
// It keeps the first failure in f.err.
func (f *fillCheck) read(read func([]byte) (int, error), p []byte, out int) (int, error) {
	_, held := f.model.count(f.conn.n)
	f.conn.first = -1
	n, err := read(p)
	switch want, _ := f.model.count(f.conn.n); {
	case len(p) < HeaderLen || f.err != nil:
	case f.conn.first >= 0 && f.conn.first != len(p)-held:
		f.err = fmt.Errorf("a Read of %d bytes, with %d held back, read the connection with %d bytes", len(p), held, f.conn.first)
	case out+n != want:
		f.err = fmt.Errorf("after a Read of %d bytes = %d, %v: %d bytes returned in all from %d read, want %d",
			len(p), n, err, out+n, f.conn.n, want)
	}
	return n, err
}

// checkFill makes col, if it reads a byte stream, check that its Reads of
// a Conn over cc fill their buffers with what wire has brought.
func checkFill(col collector, cc *countingConn, wire []byte) {
	if s, ok := col.(*streamReader); ok {
		s.fill = &fillCheck{conn: cc, model: fillModel{wire: wire, payload: s.payload}}
	}
}

func (s *streamReader) drain(c *Conn) error {
	if s.buf == nil {
		s.buf = make([]byte, s.maxRead)
	}
	var rd io.Reader = c
	if s.payload {
		rd = c.Payload()
	}
	for {
		k := 1 + s.r.IntN(s.maxRead)
		read := rd.Read
		if s.fill != nil {
			read = func(p []byte) (int, error) { return s.fill.read(rd.Read, p, len(s.out)) }
		}
		n, err := read(s.buf[:k])
		if s.fill != nil && s.fill.err != nil {
			return s.fill.err
		}
		if n < 0 || n > k {
			return fmt.Errorf("Read of %d bytes returned n = %d", k, n)
		}
		if n == 0 && err == nil {
			return errors.New("Read returned 0, nil")
		}
		s.out = append(s.out, s.buf[:n]...)
		if err != nil {
			return err
		}
	}
}

func (s *streamReader) result() any { return s.out }

// messageReader reads with ReadMessage; a call that fails part-way leaves
// its partial payload in partial, for the next call to append to.
type messageReader struct {
	msgs    [][]byte
	partial []byte
}

func (m *messageReader) drain(c *Conn) error {
	for {
		var err error
		m.partial, err = c.ReadMessage(m.partial)
		if err != nil {
			return err
		}
		m.msgs = append(m.msgs, m.partial)
		m.partial = nil
	}
}

func (m *messageReader) result() any { return m.msgs }

// A readView is one of the three ways to read a Conn, with what it must
// read from a stream.
type readView struct {
	name string
	new  func(r *rand.Rand, maxRead int) collector
	want func(s sessionStream) any
}

var readViews = []readView{
	{
		"Read",
		func(r *rand.Rand, maxRead int) collector { return &streamReader{r: r, maxRead: maxRead} },
		func(s sessionStream) any { return s.messages },
	},
	{
		"Payload",
		func(r *rand.Rand, maxRead int) collector { return &streamReader{payload: true, r: r, maxRead: maxRead} },
		func(s sessionStream) any { return s.payloadBytes() },
	},
	{
		"ReadMessage",
		func(*rand.Rand, int) collector { return &messageReader{} },
		func(s sessionStream) any { return s.payloads },
	},
}

// diffResult compares what a collector read with what it should have: a
// byte stream, or a list of payloads (cmp.Diff is too slow for payloads of
// 128 KiB, so it only compares their lengths, then diffBytes each).
func diffResult(want, got any) string {
	if w, ok := want.([]byte); ok {
		return diffBytes(w, got.([]byte))
	}
	w, g := want.([][]byte), got.([][]byte)
	lens := func(ps [][]byte) []int {
		var n []int
		for _, p := range ps {
			n = append(n, len(p))
		}
		return n
	}
	if d := cmp.Diff(lens(w), lens(g)); d != "" {
		return "payload lengths (-want +got):\n" + d
	}
	for i := range w {
		if d := diffBytes(w[i], g[i]); d != "" {
			return fmt.Sprintf("payload %d: %s", i, d)
		}
	}
	return ""
}

// feed writes b to w in chunks of random sizes between 1 and maxChunk, then
// closes w, so that the other end sees EOF after the stream. It reports
// the first write error, or nil, on the channel.
func feed(r *rand.Rand, w net.Conn, b []byte, maxChunk int) <-chan error {
	done := make(chan error, 1)
	go func() {
		defer w.Close()
		for len(b) > 0 {
			k := min(len(b), 1+r.IntN(maxChunk))
			if _, err := w.Write(b[:k]); err != nil {
				done <- err
				return
			}
			b = b[k:]
		}
		done <- nil
	}()
	return done
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		c   net.Conn
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		accepted <- result{c, err}
	}()
	a, err = net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-accepted
	if r.err != nil {
		a.Close()
		t.Fatal(r.err)
	}
	t.Cleanup(func() { a.Close(); r.c.Close() })
	return a, r.c
}

// transports make the connection under test: raw is the peer's end, nc
// the end a Conn wraps.
var transports = []struct {
	name string
	pair func(t testing.TB) (raw, nc net.Conn)
}{
	{"pipe", func(testing.TB) (net.Conn, net.Conn) { return net.Pipe() }},
	{"tcp", tcpPair},
}

// iterate runs f with a fresh random source for each iteration, for at
// most budget of wall time (and at least a few iterations), and names the
// failing iteration.
func iterate(t *testing.T, budget time.Duration, f func(t *testing.T, r, w *rand.Rand) error) {
	seed := testSeed(t)
	if testing.Short() {
		budget /= 4
	}
	start := time.Now()
	i := uint64(0)
	for ; i < 5 || time.Since(start) < budget; i++ {
		r := rand.New(rand.NewPCG(seed, 2*i))
		w := rand.New(rand.NewPCG(seed, 2*i+1))
		if err := f(t, r, w); err != nil {
			t.Fatalf("iteration %d of seed %d: %v", i, seed, err)
		}
	}
	t.Logf("%d iterations", i)
}

// randSizes picks the largest read and write sizes of an iteration, and a
// byte budget that keeps an iteration with tiny reads short.
func randSizes(r *rand.Rand) (maxRead, maxChunk, budget int) {
	pick := func() int {
		switch r.IntN(4) {
		case 0:
			return 1 + r.IntN(8)
		case 1:
			return 1 + r.IntN(200)
		case 2:
			return 1 + r.IntN(5000)
		}
		return 1 + r.IntN(140000)
	}
	maxRead, maxChunk = pick(), pick()
	return maxRead, maxChunk, min(300_000, max(4096, 1000*min(maxRead, maxChunk)))
}

// TestReadViewsProperty: for random streams written in random chunks and
// read in random sizes, each read view returns exactly what it should: the
// transparent view the wire bytes less the keep-alives, the payload view
// the payloads in a row, ReadMessage one payload per call; then io.EOF.
// Each Read of the two stream views also fills its buffer: it returns all
// it has read of the connection but keep-alives and the start of a header
// (checkFill).
func TestReadViewsProperty(t *testing.T) {
	for _, tr := range transports {
		for _, v := range readViews {
			t.Run(tr.name+"/"+v.name, func(t *testing.T) {
				iterate(t, 300*time.Millisecond, func(t *testing.T, r, w *rand.Rand) error {
					maxRead, maxChunk, budget := randSizes(r)
					s := randStream(r, budget)
					raw, nc := tr.pair(t)
					defer nc.Close()
					cc := &countingConn{Conn: nc}
					c := NewConn(cc, Request{}, nil)
					fed := feed(w, raw, s.wire, maxChunk)
					col := v.new(r, maxRead)
					checkFill(col, cc, s.wire)
					err := col.drain(c)
					c.Close()
					werr := <-fed
					if err != io.EOF { // a failed read makes the writer fail too
						return fmt.Errorf("after the stream: error %v, want io.EOF", err)
					}
					if werr != nil {
						return fmt.Errorf("writing the stream: %v", werr)
					}
					if d := diffResult(v.want(s), col.result()); d != "" {
						return fmt.Errorf("%d messages, reads up to %d, writes up to %d: %s", len(s.payloads), maxRead, maxChunk, d)
					}
					return nil
				})
			})
		}
	}
}

// TestReadViewsKeepAlivePositions puts keep-alives at each position between
// the messages of a fixed stream, one position at a time, then at all of
// them, and reads with every view in random sizes.
func TestReadViewsKeepAlivePositions(t *testing.T) {
	payloads := [][]byte{{}, counting(1), counting(5), counting(0x10000), {}, counting(300), counting(0x1FFFF)}
	var layouts [][]int
	for i := range len(payloads) + 1 {
		for _, k := range []int{1, 2} {
			ka := make([]int, len(payloads)+1)
			ka[i] = k
			layouts = append(layouts, ka)
		}
	}
	all := make([]int, len(payloads)+1)
	for i := range all {
		all[i] = 1 + i%3
	}
	layouts = append(layouts, all)

	seed := testSeed(t)
	for _, v := range readViews {
		t.Run(v.name, func(t *testing.T) {
			for li, ka := range layouts {
				r := rand.New(rand.NewPCG(seed, uint64(li)))
				s := buildStream(ka, payloads)
				raw, nc := net.Pipe()
				cc := &countingConn{Conn: nc}
				c := NewConn(cc, Request{}, nil)
				fed := feed(rand.New(rand.NewPCG(seed, uint64(li)+1000)), raw, s.wire, 1+r.IntN(3000))
				col := v.new(r, 1+r.IntN(3000))
				checkFill(col, cc, s.wire)
				err := col.drain(c)
				c.Close()
				werr := <-fed
				if err != io.EOF { // a failed read makes the writer fail too
					t.Fatalf("keep-alives %v: error %v, want io.EOF", ka, err)
				}
				if werr != nil {
					t.Fatalf("keep-alives %v: writing: %v", ka, werr)
				}
				if d := diffResult(v.want(s), col.result()); d != "" {
					t.Errorf("keep-alives %v: %s", ka, d)
				}
			}
		})
	}
}

// TestReadViewsMixed switches views at message boundaries, which the Conn
// allows: each message is read whole by a random view.
func TestReadViewsMixed(t *testing.T) {
	iterate(t, 300*time.Millisecond, func(t *testing.T, r, w *rand.Rand) error {
		maxRead, maxChunk, budget := randSizes(r)
		s := randStream(r, budget)
		raw, nc := net.Pipe()
		c := NewConn(nc, Request{}, nil)
		fed := feed(w, raw, s.wire, maxChunk)
		defer func() { c.Close(); <-fed }()
		buf := make([]byte, maxRead)
		// readExactly reads n bytes from rd in random sizes.
		readExactly := func(rd io.Reader, n int) ([]byte, error) {
			var out []byte
			for len(out) < n {
				k := 1 + r.IntN(min(maxRead, n-len(out)))
				m, err := rd.Read(buf[:k])
				out = append(out, buf[:m]...)
				if err != nil {
					return out, err
				}
			}
			return out, nil
		}
		for i, p := range s.payloads {
			var got, want []byte
			var err error
			view := r.IntN(3)
			if view == 1 && len(p) == 0 {
				view = 0 // the payload view skips empty messages
			}
			switch view {
			case 0:
				want = message(p)
				got, err = readExactly(c, len(want))
			case 1:
				want = p
				got, err = readExactly(c.Payload(), len(p))
			case 2:
				want = p
				got, err = c.ReadMessage(nil)
			}
			if err != nil {
				return fmt.Errorf("message %d (view %d): %v", i, view, err)
			}
			if d := diffBytes(want, got); d != "" {
				return fmt.Errorf("message %d (view %d): %s", i, view, d)
			}
		}
		if _, err := c.Read(buf); err != io.EOF {
			return fmt.Errorf("after the stream: error %v, want io.EOF", err)
		}
		return nil
	})
}

// TestWriteProperty writes random valid streams through the transparent
// Write in random chunks, which split headers across calls; the peer
// receives the same bytes.
func TestWriteProperty(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			iterate(t, 300*time.Millisecond, func(t *testing.T, r, w *rand.Rand) error {
				_, maxChunk, budget := randSizes(r)
				s := randStream(r, budget)
				raw, nc := tr.pair(t)
				c := NewConn(nc, Request{}, nil)
				type result struct {
					b   []byte
					err error
				}
				got := make(chan result, 1)
				go func() {
					b, err := io.ReadAll(raw)
					got <- result{b, err}
				}()
				b := s.messages
				for len(b) > 0 {
					k := min(len(b), 1+r.IntN(maxChunk))
					if n, err := c.Write(b[:k]); n != k || err != nil {
						c.Close()
						<-got
						return fmt.Errorf("Write of %d bytes at offset %d = %d, %v; want %d, nil", k, len(s.messages)-len(b), n, err, k)
					}
					b = b[k:]
				}
				c.Close()
				res := <-got
				if res.err != nil {
					return fmt.Errorf("reading the peer: %v", res.err)
				}
				if d := diffBytes(s.messages, res.b); d != "" {
					return fmt.Errorf("writes up to %d: %s", maxChunk, d)
				}
				return nil
			})
		})
	}
}

// readerConn is a net.Conn that reads from an io.Reader, for the readers
// of testing/iotest; its other methods are those of a nil net.Conn, but
// Close.
type readerConn struct {
	net.Conn
	r io.Reader
}

func (c readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }
func (c readerConn) Close() error               { return nil }

// TestReadViewsIotest reads random streams through connections that read
// one byte at a time, half of what is asked, or that return io.EOF with
// the last bytes rather than after them, as an io.Reader may: a message
// that ends with the stream is still whole.
func TestReadViewsIotest(t *testing.T) {
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"OneByteReader", iotest.OneByteReader},
		{"HalfReader", iotest.HalfReader},
		{"DataErrReader", iotest.DataErrReader},
		{"DataErrReader(HalfReader)", func(r io.Reader) io.Reader { return iotest.DataErrReader(iotest.HalfReader(r)) }},
	}
	for _, rd := range readers {
		for _, v := range readViews {
			t.Run(rd.name+"/"+v.name, func(t *testing.T) {
				iterate(t, 100*time.Millisecond, func(t *testing.T, r, _ *rand.Rand) error {
					s := randStream(r, 20_000)
					cc := &countingConn{Conn: readerConn{r: rd.wrap(bytes.NewReader(s.wire))}}
					c := NewConn(cc, Request{}, nil)
					col := v.new(r, 1+r.IntN(3000))
					checkFill(col, cc, s.wire)
					if err := col.drain(c); err != io.EOF {
						return fmt.Errorf("after the stream: error %v, want io.EOF", err)
					}
					if d := diffResult(v.want(s), col.result()); d != "" {
						return errors.New(d)
					}
					return nil
				})
			})
		}
	}
}
