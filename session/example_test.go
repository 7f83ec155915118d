package session_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/session"
)

func ExampleRequest_AppendBinary() {
	req := session.Request{
		Called:  nbns.MustName("*SMBSERVER", nbns.FileServer),
		Calling: nbns.MustName("NBTPROBE", nbns.Workstation),
	}
	b, err := req.AppendBinary(nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("% x\n%s\n%s\n", b[:4], b[5:37], b[39:71])
	// Output:
	// 81 00 00 44
	// CKFDENECFDEFFCFGEFFCCACACACACACA
	// EOECFEFAFCEPECEFCACACACACACACAAA
}

func ExampleNegativeResponseError() {
	// The five bytes a server sends to refuse *SMBSERVER.
	var resp session.Response
	if err := resp.UnmarshalBinary([]byte{0x83, 0x00, 0x00, 0x01, 0x82}); err != nil {
		log.Fatal(err)
	}
	err := resp.Err(nbns.MustName("*SMBSERVER", nbns.FileServer))
	fmt.Println(err)
	fmt.Println(errors.Is(err, session.ErrCalledNameNotPresent))
	if ne, ok := errors.AsType[*session.NegativeResponseError](err); ok {
		fmt.Printf("%#v\n", ne.Code)
	}
	// Output:
	// session request "*SMBSERVER<20>": called name not present (0x82)
	// true
	// session.ErrCalledNameNotPresent
}

func ExampleParseHeaderLenient() {
	// A Direct-TCP header of an SMB message longer than 17 bits.
	hdr := []byte{0x00, 0x02, 0x00, 0x40}
	_, err := session.ParseHeader(hdr)
	fmt.Println(err)
	h, err := session.ParseHeaderLenient(hdr)
	fmt.Println(h.Type, h.Length, err)
	// Output:
	// session: parsing FLAGS at offset 1: reserved flag bits set
	// session message 131136 <nil>
}
