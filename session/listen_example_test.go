package session_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/session"
)

// A file server named FILESRV serves port 139 through a Listener: it
// answers session requests for its own name and *SMBSERVER, refuses other
// names, and takes a client of port 445 that sends its SMB message at
// once, as smbd does. An SMB server written for port 445 would be given
// the Listener itself (it is a net.Listener).
func ExampleListener() {
	l, err := session.Listen("tcp4", "127.0.0.1:0", &session.ListenConfig{
		Decide: session.AcceptNames(nbns.MustName("FILESRV", nbns.FileServer), session.SMBServer),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	addr := l.Addr().(*net.TCPAddr).AddrPort()

	var d session.Dialer
	for _, called := range []string{"FILESRV", "*SMBSERVER", "OTHER"} {
		req := session.Request{Called: nbns.MustName(called, nbns.FileServer), Calling: nbns.MustName("CLIENT", nbns.Workstation)}
		client, err := d.Dial(addr, req)
		if errors.Is(err, session.ErrCalledNameNotPresent) {
			fmt.Printf("%v refused: %v\n", req.Called, session.ErrCalledNameNotPresent)
			continue
		} else if err != nil {
			log.Fatal(err)
		}
		c, err := l.AcceptSession()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("session for %v from %v\n", c.Request().Called, c.Request().Calling)
		c.Close()
		client.Close()
	}

	// A Direct-TCP client: an SMB2 message with its 4-byte header, no
	// session request.
	client, err := net.Dial("tcp4", addr.String())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	client.Write([]byte{0x00, 0x00, 0x00, 0x04, 0xFE, 'S', 'M', 'B'})
	c, err := l.AcceptSession()
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	first := make([]byte, 8)
	if _, err := io.ReadFull(c, first); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("direct: no called name (%v), read % x\n", c.Request().Called.IsZero(), first)
	// Output:
	// session for FILESRV<20> from CLIENT<00>
	// session for *SMBSERVER<20> from CLIENT<00>
	// OTHER<20> refused: called name not present (0x82)
	// direct: no called name (true), read 00 00 00 04 fe 53 4d 42
}
