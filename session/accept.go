package session

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
)

// Accept answers the session request a caller sends on nc, as the called
// side of RFC 1002 §5.2.1.2 does. decide sees the request and returns nil
// to accept it, an [ErrorCode] to refuse it with that code, or a
// *[RetargetError] to send the caller to another IPv4 address and port;
// any other error refuses with [ErrUnspecified].
//
// After a positive response Accept returns the conn. Otherwise it closes
// nc and returns the refusal as a *[NegativeResponseError], the
// *RetargetError, or the error that stopped it; a request whose names do
// not decode (an error that wraps [ErrBadName]) is refused with
// [ErrCalledNameNotPresent], as Samba does, without calling decide. The
// context bounds the exchange and no longer affects the conn afterwards.
func Accept(ctx context.Context, nc net.Conn, decide func(Request) error, cfg *Config) (c *Conn, err error) {
	defer func() {
		if err != nil {
			nc.Close()
		}
	}()
	stop := bindContext(ctx, nc)
	req, resp, err := answer(nc, decide)
	if err == nil || resp.Type != 0 {
		b, werr := resp.AppendBinary(make([]byte, 0, HeaderLen+RetargetLength))
		if werr == nil {
			_, werr = nc.Write(b)
		}
		if err == nil {
			err = werr
		}
	}
	err = ctxErr(ctx, err)
	if !stop() {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	return NewConn(nc, req, cfg), nil
}

// answer reads a session request from nc and decides the response. A
// response with a non-zero Type is to be sent, even with an error.
func answer(nc net.Conn, decide func(Request) error) (Request, Response, error) {
	req, err := ReadRequest(nc)
	if err != nil {
		if errors.Is(err, ErrBadName) {
			return req, Response{Type: TypeNegativeResponse, Code: ErrCalledNameNotPresent}, err
		}
		return req, Response{}, err
	}
	err = decide(req)
	if err == nil {
		return req, Response{Type: TypePositiveResponse}, nil
	}
	var code ErrorCode
	var re *RetargetError
	switch {
	case errors.As(err, &re) && re.Addr.Addr().Unmap().Is4():
		a := netip.AddrPortFrom(re.Addr.Addr().Unmap(), re.Addr.Port())
		return req, Response{Type: TypeRetargetResponse, Retarget: a}, &RetargetError{Called: req.Called, Addr: a}
	case errors.As(err, &re):
		err = errRetargetAddr // a retarget can name IPv4 only: refuse instead
		fallthrough
	default:
		if !errors.As(err, &code) {
			code = ErrUnspecified
		}
	}
	return req, Response{Type: TypeNegativeResponse, Code: code}, &NegativeResponseError{Called: req.Called, Code: code}
}

// ReadRequest reads one SESSION REQUEST from r, the first thing a caller
// sends: the header, then exactly the trailer it announces, at most
// [MaxRequestLength] bytes, skipping up to 16 keep-alives before it. A
// request whose names do not decode is read whole and gives a *ParseError
// for the name that wraps [ErrBadName], so that a listener can still answer
// it.
func ReadRequest(r io.Reader) (Request, error) {
	var b [HeaderLen + MaxRequestLength]byte
	var h Header
	for range maxKeepAlives + 1 {
		if _, err := io.ReadFull(r, b[:HeaderLen]); err != nil {
			return Request{}, err
		}
		var err error
		if h, err = ParseHeader(b[:HeaderLen]); err != nil {
			return Request{}, err
		}
		if h.Type != TypeKeepAlive {
			break
		}
	}
	if h.Type != TypeRequest {
		return Request{}, parseErr("TYPE", 0, &typeError{h.Type})
	}
	if _, err := io.ReadFull(r, b[HeaderLen:HeaderLen+h.Length]); err != nil {
		return Request{}, err
	}
	var req Request
	err := req.UnmarshalBinary(b[:HeaderLen+h.Length])
	return req, err
}
