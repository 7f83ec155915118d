package session

import "io"

// copyBuffer is the size of the buffer of [Conn.WriteTo], io.Copy's.
const copyBuffer = 32 << 10

var _ io.WriterTo = (*Conn)(nil)

// WriteTo writes the conn's message stream to w, as [Conn.Read] returns
// it (headers included, keep-alives removed), until the stream ends or an
// error; it returns the bytes written. It is what io.Copy calls to copy
// from a Conn.
//
// When w is a *Conn too, or carries one as its Session method returns it
// (an nbt.Conn over NetBIOS does), as in a relay between two NetBIOS
// sessions or a NetBIOS session and a [Listener]'s Direct-TCP conn, the
// framing is walked once, not once by Read and again by w's Write: every
// header is checked, as it is read, against the rules of both conns, and
// the bytes go to w's connection directly. w's keep-alives still go only
// between messages. A message that w's Write would refuse ends the copy
// as it would end it: the bytes before it are written, and WriteTo
// returns [ErrFraming]; what was read after it is lost, as io.Copy loses
// what it read and could not write.
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	dst, _ := w.(*Conn)
	if s, ok := w.(interface{ Session() *Conn }); ok {
		dst = s.Session() // nil for an nbt.Conn over Direct TCP
	}
	buf := make([]byte, copyBuffer)
	var total int64
	for {
		var n int
		var err error
		if dst != nil {
			n, err = c.copyTo(dst, buf)
		} else {
			n, err = c.copyToWriter(w, buf)
		}
		total += int64(n)
		switch {
		case err == io.EOF:
			return total, nil
		case err != nil:
			return total, err
		}
	}
}

// copyToWriter reads once from c into buf and writes what it got to w.
func (c *Conn) copyToWriter(w io.Writer, buf []byte) (int, error) {
	n, rerr := c.Read(buf)
	if n == 0 {
		return 0, rerr
	}
	m, err := w.Write(buf[:n])
	switch {
	case err != nil:
		return m, err
	case m < n:
		return m, io.ErrShortWrite
	}
	return m, rerr
}

// copyTo reads once from c into buf, checking the framing for dst too,
// and writes what it got to dst's connection, which then stands where c's
// read stream stands. Where dst's stream does not stand where c's did,
// for a caller that wrote part of a message to dst, it writes with dst's
// Write instead, which checks the framing again.
func (c *Conn) copyTo(dst *Conn, buf []byte) (int, error) {
	c.rmu.Lock()
	before := c.readPos()
	// The bits that dst's writes refuse and c's reads let through: none
	// when c reads as strictly as dst writes. (dst.long, not dst.wf.long:
	// dst.wf is dst.wmu's.)
	wmask := writeMask(dst.long) &^ c.msgMask()
	n, cut, rerr := c.read(buf, true, wmask)
	after := c.readPos()
	c.rmu.Unlock()
	if n == 0 {
		return 0, rerr
	}

	dst.wmu.Lock()
	defer dst.wmu.Unlock()
	if dst.werr != nil {
		return 0, dst.werr
	}
	if dst.wf.hdrN > 0 || before.hdrN > 0 || dst.wf.rem != before.rem {
		m, err := dst.write(buf[:n])
		if err == nil {
			err = rerr
		}
		return m, err
	}
	p := buf[:n]
	if cut >= 0 {
		p, after = buf[:cut], framer{}
	}
	m, err := dst.nc.Write(p)
	if m > 0 {
		dst.touch()
	}
	if err != nil {
		// Follow the framing of what was sent.
		dst.wf.walk(p[:m])
		dst.breakFraming(dst.wf.hdrN > 0, err)
		return m, err
	}
	dst.wf.hdr, dst.wf.hdrN, dst.wf.rem = after.hdr, after.hdrN, after.rem
	if cut >= 0 {
		return m, ErrFraming
	}
	return m, rerr
}

// readPos returns where the stream that Read returns stands, as a framer
// for writes would: inside a payload, inside a header handed out in part,
// or between messages (a header held back has not been handed out). The
// caller holds c.rmu.
func (c *Conn) readPos() framer {
	if c.rhN == HeaderLen {
		switch {
		case c.rhO == HeaderLen:
			return framer{rem: c.rrem}
		case c.rhO > 0:
			return framer{hdr: c.rhdr, hdrN: c.rhO}
		}
	}
	return framer{}
}

// WriteTo writes the payloads of the conn's messages to w until the
// stream ends or an error. It hides [Conn.WriteTo], which copies the
// whole stream.
func (p payloadConn) WriteTo(w io.Writer) (int64, error) {
	return io.Copy(w, struct{ io.Reader }{p})
}
