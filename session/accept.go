package session

import (
	"context"
	"errors"
	"io"
	"net"
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
// not decode is refused with [ErrCalledNameNotPresent], as Samba does. The
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
	return newConn(nc, req, cfg), nil
}

// answer reads a session request from nc and decides the response. A
// response with a non-zero Type is to be sent, even with an error.
func answer(nc net.Conn, decide func(Request) error) (Request, Response, error) {
	var b [HeaderLen + MaxRequestLength]byte
	var h Header
	for range maxKeepAlives + 1 {
		if _, err := io.ReadFull(nc, b[:HeaderLen]); err != nil {
			return Request{}, Response{}, err
		}
		var err error
		if h, err = ParseHeader(b[:HeaderLen]); err != nil {
			return Request{}, Response{}, err
		}
		if h.Type != TypeKeepAlive {
			break
		}
	}
	if h.Type != TypeRequest {
		return Request{}, Response{}, parseErr("TYPE", 0, &typeError{h.Type})
	}
	if _, err := io.ReadFull(nc, b[HeaderLen:HeaderLen+h.Length]); err != nil {
		return Request{}, Response{}, err
	}
	var req Request
	if err := req.UnmarshalBinary(b[:HeaderLen+h.Length]); err != nil {
		return req, Response{Type: TypeNegativeResponse, Code: ErrCalledNameNotPresent}, err
	}
	err := decide(req)
	if err == nil {
		return req, Response{Type: TypePositiveResponse}, nil
	}
	var code ErrorCode
	var re *RetargetError
	switch {
	case errors.As(err, &re):
		return req, Response{Type: TypeRetargetResponse, Retarget: re.Addr}, re
	case errors.As(err, &code):
	default:
		code = ErrUnspecified
	}
	return req, Response{Type: TypeNegativeResponse, Code: code}, &NegativeResponseError{Called: req.Called, Code: code}
}
