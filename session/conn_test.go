package session

import (
	"context"
	"net"
	"testing"

	"golang.org/x/net/nettest"

	"github.com/netbios-go/netbios/nbns"
)

// sessionPair opens a session over the two ends of a connection, the
// caller on c1 and the listener on c2.
func sessionPair(t testing.TB, c1, c2 net.Conn, cfg *Config) (caller, listener *Conn, err error) {
	req := Request{Called: nbns.MustName("LABSRV", nbns.FileServer), Calling: nbns.MustName("CLIENT", nbns.Workstation)}
	type result struct {
		c   *Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := Accept(context.Background(), c2, func(Request) error { return nil }, cfg)
		done <- result{c, err}
	}()
	d := Dialer{Config: cfg}
	caller, err = d.DialConn(context.Background(), c1, req)
	r := <-done
	if err == nil {
		err = r.err
	}
	return caller, r.c, err
}

func TestConnNettestPipe(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		p1, p2 := net.Pipe()
		a, b, err := sessionPair(t, p1, p2, nil)
		if err != nil {
			return nil, nil, nil, err
		}
		return a.Payload(), b.Payload(), func() { a.Close(); b.Close() }, nil
	})
}

func TestConnNettestTCP(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		ln, err := nettest.NewLocalListener("tcp4")
		if err != nil {
			return nil, nil, nil, err
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			c, _ := ln.Accept()
			accepted <- c
		}()
		p1, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			return nil, nil, nil, err
		}
		p2 := <-accepted
		a, b, err := sessionPair(t, p1, p2, nil)
		if err != nil {
			return nil, nil, nil, err
		}
		return a.Payload(), b.Payload(), func() { a.Close(); b.Close() }, nil
	})
}
