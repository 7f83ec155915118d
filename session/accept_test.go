package session

// Tests of Accept, the called side of the handshake, over net.Pipe: with
// Dialer.DialConn as the caller, and with a raw caller that checks the
// bytes on the wire.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netbios-go/netbios/nbns"
)

// acceptResult is what Accept returned, and its end of the pipe.
type acceptResult struct {
	c   *Conn
	err error
	nc  net.Conn
}

// startAccept runs Accept on one end of a new pipe and returns the other
// end, for the caller.
func startAccept(ctx context.Context, decide func(Request) error) (caller net.Conn, done <-chan acceptResult) {
	caller, nc := net.Pipe()
	ch := make(chan acceptResult, 1)
	go func() {
		c, err := Accept(ctx, nc, decide, nil)
		ch <- acceptResult{c, err, nc}
	}()
	return caller, ch
}

// wait returns Accept's result, or fails the test after 10s.
func wait(t *testing.T, done <-chan acceptResult) acceptResult {
	t.Helper()
	select {
	case r := <-done:
		if r.c != nil {
			t.Cleanup(func() { r.c.Close() })
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("Accept still running after 10s")
	}
	return acceptResult{}
}

// checkClosed checks that Accept closed its end of the pipe.
func checkClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	if _, err := nc.Write([]byte{0}); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("writing Accept's end: %v, want io.ErrClosedPipe (closed)", err)
	}
}

var retarget1139 = netip.MustParseAddrPort("127.0.0.1:1139")

// decisions are the answers decide can give, with the response each one
// puts on the wire.
var decisions = []struct {
	name   string
	decide error
	wire   []byte
	code   ErrorCode // of the negative response, if it is one
}{
	{"accept", nil, []byte{0x82, 0x00, 0x00, 0x00}, 0},
	{"0x80", ErrNotListeningOnCalledName, []byte{0x83, 0x00, 0x00, 0x01, 0x80}, 0x80},
	{"0x81", ErrNotListeningForCallingName, []byte{0x83, 0x00, 0x00, 0x01, 0x81}, 0x81},
	{"0x82", ErrCalledNameNotPresent, []byte{0x83, 0x00, 0x00, 0x01, 0x82}, 0x82},
	{"0x83", ErrInsufficientResources, []byte{0x83, 0x00, 0x00, 0x01, 0x83}, 0x83},
	{"0x8F", ErrUnspecified, []byte{0x83, 0x00, 0x00, 0x01, 0x8F}, 0x8F},
	{"wrapped code", fmt.Errorf("busy: %w", ErrInsufficientResources), []byte{0x83, 0x00, 0x00, 0x01, 0x83}, 0x83},
	{"NegativeResponseError", &NegativeResponseError{Code: ErrNotListeningOnCalledName}, []byte{0x83, 0x00, 0x00, 0x01, 0x80}, 0x80},
	{"any other error", errors.New("no"), []byte{0x83, 0x00, 0x00, 0x01, 0x8F}, 0x8F},
	{"retarget", &RetargetError{Addr: retarget1139}, []byte{0x84, 0x00, 0x00, 0x06, 127, 0, 0, 1, 0x04, 0x73}, 0},
}

// TestAcceptDialConn runs each decision against Dialer.DialConn: both
// sides see the same outcome, and Accept closes the conn unless it
// accepted.
func TestAcceptDialConn(t *testing.T) {
	for _, tt := range decisions {
		t.Run(tt.name, func(t *testing.T) {
			var seen []Request
			caller, done := startAccept(t.Context(), func(r Request) error {
				seen = append(seen, r)
				return tt.decide
			})
			c, err := new(Dialer).DialConn(t.Context(), caller, testReq)
			r := wait(t, done)
			if d := cmp.Diff([]Request{testReq}, seen, cmpNames); d != "" {
				t.Errorf("decide saw (-want +got):\n%s", d)
			}
			switch want := tt.decide.(type) {
			case nil:
				if err != nil || r.err != nil {
					t.Fatalf("DialConn: %v; Accept: %v", err, r.err)
				}
				defer c.Close()
				if d := cmp.Diff(testReq, r.c.Request(), cmpNames); d != "" {
					t.Errorf("the accepted conn's Request (-want +got):\n%s", d)
				}
				go c.WriteMessage([]byte("to the listener"))
				if got, err := r.c.ReadMessage(nil); string(got) != "to the listener" || err != nil {
					t.Errorf("listener's ReadMessage = %q, %v", got, err)
				}
				go r.c.WriteMessage([]byte("to the caller"))
				if got, err := c.ReadMessage(nil); string(got) != "to the caller" || err != nil {
					t.Errorf("caller's ReadMessage = %q, %v", got, err)
				}
			case *RetargetError:
				wantErr := &RetargetError{Called: testReq.Called, Addr: want.Addr}
				for side, err := range map[string]error{"DialConn": err, "Accept": r.err} {
					re, ok := errors.AsType[*RetargetError](err)
					if !ok {
						t.Errorf("%s: error %v, want a *RetargetError", side, err)
						continue
					}
					if d := cmp.Diff(wantErr, re, cmpNames); side == "DialConn" && d != "" {
						t.Errorf("%s (-want +got):\n%s", side, d)
					}
					if re.Addr != want.Addr {
						t.Errorf("%s: retarget to %v, want %v", side, re.Addr, want.Addr)
					}
				}
				checkClosed(t, r.nc)
			default:
				wantErr := &NegativeResponseError{Called: testReq.Called, Code: tt.code}
				for side, err := range map[string]error{"DialConn": err, "Accept": r.err} {
					ne, ok := errors.AsType[*NegativeResponseError](err)
					if !ok {
						t.Errorf("%s: error %v, want a *NegativeResponseError", side, err)
						continue
					}
					if d := cmp.Diff(wantErr, ne, cmpNames); d != "" {
						t.Errorf("%s (-want +got):\n%s", side, d)
					}
					if !errors.Is(err, tt.code) {
						t.Errorf("%s: errors.Is(%v, %#v) = false", side, err, tt.code)
					}
				}
				checkClosed(t, r.nc)
			}
		})
	}
}

// TestAcceptWire checks the exact answer of each decision on the wire, and
// that the connection ends after every answer but a positive one.
func TestAcceptWire(t *testing.T) {
	request, err := testReq.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range decisions {
		t.Run(tt.name, func(t *testing.T) {
			caller, done := startAccept(t.Context(), func(Request) error { return tt.decide })
			defer caller.Close()
			go caller.Write(request)
			caller.SetReadDeadline(time.Now().Add(10 * time.Second))
			got := readN(t, caller, len(tt.wire))
			if d := cmp.Diff(tt.wire, got); d != "" {
				t.Errorf("answer (-want +got):\n%s", d)
			}
			r := wait(t, done)
			if tt.decide == nil {
				if r.err != nil {
					t.Fatal(r.err)
				}
				return
			}
			if n, err := caller.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("after the answer: %d bytes, %v; want io.EOF", n, err)
			}
		})
	}
}

// TestAcceptBadRequest: what comes before or instead of a session request.
// A request whose names do not decode is refused with 0x82, as Samba does,
// and Accept's error wraps ErrBadName; anything else that is not a request
// gets no answer; keep-alives before the request are skipped, up to 16.
func TestAcceptBadRequest(t *testing.T) {
	request, err := testReq.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	withByte := func(i int, v byte) []byte {
		b := cat(request)
		b[i] = v
		return b
	}
	// withNames is a request header announcing exactly the names given.
	withNames := func(names ...[]byte) []byte {
		body := cat(names...)
		return cat([]byte{0x81, 0, byte(len(body) >> 8), byte(len(body))}, body)
	}
	encode := func(n nbns.Name, scope string) []byte {
		b, err := n.AppendEncoded(nil, scope)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	called, calling := encode(testReq.Called, ""), encode(testReq.Calling, "")
	refused := []byte{0x83, 0x00, 0x00, 0x01, 0x82}
	tests := []struct {
		name    string
		wire    []byte
		answer  []byte // nil: the connection closes without one
		field   string // of the *ParseError Accept returns; "" for none
		unexpec bool   // Accept's error wraps ErrUnexpectedPacket
		decided bool   // decide was called
	}{
		{"called name with a Q", withByte(5, 'Q'), refused, "CALLED NAME", false, false},
		{"calling name with a Q", withByte(40, 'Q'), refused, "CALLING NAME", false, false},
		{"called label of 5 bytes", withByte(4, 5), refused, "CALLED NAME", false, false},
		{"scopes differ", withNames(encode(testReq.Called, "lab"), calling), refused, "CALLING NAME", false, false},
		{"a byte after the names", withNames(called, calling, []byte{0}), refused, "CALLING NAME", false, false},
		{"a third name", withNames(called, calling, calling), refused, "CALLING NAME", false, false},
		{"session message", message([]byte("hello")), nil, "TYPE", true, false},
		{"positive response", []byte{0x82, 0, 0, 0}, nil, "TYPE", true, false},
		{"request too short", []byte{0x81, 0x00, 0x00, 0x10}, nil, "LENGTH", false, false},
		{"request with flags 0x02", withByte(1, 0x02), nil, "FLAGS", false, false},
		{"3 keep-alives", cat(keepAlive, keepAlive, keepAlive, request), []byte{0x82, 0, 0, 0}, "", false, true},
		{"16 keep-alives", cat(bytes.Repeat(keepAlive, 16), request), []byte{0x82, 0, 0, 0}, "", false, true},
		{"17 keep-alives", cat(bytes.Repeat(keepAlive, 17), request), nil, "TYPE", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			decided := false
			caller, done := startAccept(t.Context(), func(Request) error { decided = true; return nil })
			defer caller.Close()
			go caller.Write(tt.wire)
			caller.SetReadDeadline(time.Now().Add(10 * time.Second))
			var got []byte
			var err error
			if tt.answer != nil && tt.answer[0] == 0x82 {
				got = readN(t, caller, 4) // a positive answer leaves the conn open
			} else {
				got, err = io.ReadAll(io.LimitReader(caller, int64(len(tt.answer)+1)))
			}
			r := wait(t, done)
			if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("reading the answer: %v", err)
			}
			if d := cmp.Diff(tt.answer, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("answer (-want +got):\n%s", d)
			}
			if decided != tt.decided {
				t.Errorf("decide called: %v, want %v", decided, tt.decided)
			}
			if tt.field == "" {
				if r.err != nil {
					t.Errorf("Accept: %v", r.err)
				}
				return
			}
			pe, ok := errors.AsType[*ParseError](r.err)
			if !ok || pe.Field != tt.field {
				t.Errorf("Accept: %v, want a *ParseError on %s", r.err, tt.field)
			}
			if tt.unexpec != errors.Is(r.err, ErrUnexpectedPacket) {
				t.Errorf("Accept: %v; wraps ErrUnexpectedPacket: %v, want %v", r.err, !tt.unexpec, tt.unexpec)
			}
			// Refused with 0x82 exactly when the error wraps ErrBadName.
			if wantBad := bytes.Equal(tt.answer, refused); errors.Is(r.err, ErrBadName) != wantBad {
				t.Errorf("Accept: %v; wraps ErrBadName: %v, want %v", r.err, !wantBad, wantBad)
			}
			checkClosed(t, r.nc)
		})
	}
}

// TestAcceptScope: a request whose names carry a scope (RFC 1002 §4.3.2)
// reaches decide, and the accepted conn, with that scope; the caller's
// DialConn puts it on the wire.
func TestAcceptScope(t *testing.T) {
	req := testReq
	req.Scope = "lab.example"
	var seen []Request
	caller, done := startAccept(t.Context(), func(r Request) error {
		seen = append(seen, r)
		return nil
	})
	c, err := new(Dialer).DialConn(t.Context(), caller, req)
	r := wait(t, done)
	if err != nil || r.err != nil {
		t.Fatalf("DialConn: %v; Accept: %v", err, r.err)
	}
	defer c.Close()
	if d := cmp.Diff([]Request{req}, seen, cmpNames); d != "" {
		t.Errorf("decide saw (-want +got):\n%s", d)
	}
	if d := cmp.Diff(req, r.c.Request(), cmpNames); d != "" {
		t.Errorf("the accepted conn's Request (-want +got):\n%s", d)
	}
}

// TestAcceptContext: the context bounds the wait for the request; its
// error is what Accept reports. After Accept, it no longer applies.
func TestAcceptContext(t *testing.T) {
	t.Run("cancel while waiting", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			caller, done := startAccept(ctx, func(Request) error { return nil })
			defer caller.Close()
			synctest.Wait() // Accept waits for the request
			cancel()
			r := <-done
			if !errors.Is(r.err, context.Canceled) {
				t.Errorf("Accept: %v, want context.Canceled", r.err)
			}
			checkClosed(t, r.nc)
		})
	})
	t.Run("deadline while waiting", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			start := time.Now()
			caller, done := startAccept(ctx, func(Request) error { return nil })
			defer caller.Close()
			r := <-done
			if !errors.Is(r.err, context.DeadlineExceeded) {
				t.Errorf("Accept: %v, want context.DeadlineExceeded", r.err)
			}
			if d := time.Since(start); d != time.Minute {
				t.Errorf("Accept returned after %v, want 1m", d)
			}
		})
	})
	t.Run("cancel after", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			caller, done := startAccept(ctx, func(Request) error { return nil })
			c, err := new(Dialer).DialConn(t.Context(), caller, testReq)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			defer r.c.Close()
			cancel()
			time.Sleep(2 * time.Minute) // fake clock: past the context's deadline
			go c.WriteMessage([]byte("later"))
			if got, err := r.c.ReadMessage(nil); string(got) != "later" || err != nil {
				t.Errorf("ReadMessage = %q, %v", got, err)
			}
		})
	})
}
