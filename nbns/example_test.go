package nbns_test

import (
	"encoding/hex"
	"fmt"
	"log"

	"github.com/netbios-go/netbios/nbns"
)

func ExampleNewName() {
	n, err := nbns.NewName("labsrv", nbns.FileServer)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n)
	fmt.Printf("%s\n", n.AppendFirstLevel(nil))
	fmt.Println(nbns.Wildcard())
	// Output:
	// LABSRV<20>
	// EMEBECFDFCFGCACACACACACACACACACA
	// *<00>
}

func ExampleParseName() {
	n, err := nbns.ParseName(`\x01\x02__MSBROWSE__\x02<01>`)
	if err != nil {
		log.Fatal(err)
	}
	b := n.Bytes()
	fmt.Printf("%q suffix %#02x\n", b[:15], byte(n.Suffix()))
	// Output:
	// "\x01\x02__MSBROWSE__\x02" suffix 0x01
}

func ExampleNodeStatusRequest_AppendBinary() {
	q := nbns.NodeStatusRequest{ID: 0x19d6, Name: nbns.Wildcard()} // "*<00>": the whole name table
	b, err := q.AppendBinary(nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(hex.Dump(b))
	// Output:
	// 00000000  19 d6 00 00 00 01 00 00  00 00 00 00 20 43 4b 41  |............ CKA|
	// 00000010  41 41 41 41 41 41 41 41  41 41 41 41 41 41 41 41  |AAAAAAAAAAAAAAAA|
	// 00000020  41 41 41 41 41 41 41 41  41 41 41 41 41 00 00 21  |AAAAAAAAAAAAA..!|
	// 00000030  00 01                                             |..|
}

func ExampleNodeStatusResponse_UnmarshalBinary() {
	// A reply as Samba's nmbd sends it, built here with the encoder.
	reply := nbns.NodeStatusResponse{
		Header: nbns.Header{ID: 7, Authoritative: true},
		Name:   nbns.Wildcard(),
		Names: []nbns.NodeName{
			{Name: nbns.MustName("LABSRV", nbns.Workstation), Flags: nbns.FlagActive},
			{Name: nbns.MustName("LABSRV", nbns.FileServer), Flags: nbns.FlagActive},
			{Name: nbns.MustName("LABGRP", nbns.BrowserElection), Flags: nbns.FlagGroup | nbns.FlagActive},
		},
	}
	pkt, err := reply.MarshalBinary()
	if err != nil {
		log.Fatal(err)
	}

	var r nbns.NodeStatusResponse
	if err := r.UnmarshalBinary(pkt); err != nil {
		log.Fatal(err)
	}
	for _, e := range r.Names {
		fmt.Printf("%-16v %v\n", e.Name, e.Flags)
	}
	if _, ok := r.MAC(); !ok {
		fmt.Println("MAC unknown")
	}
	server, err := r.ServerName()
	fmt.Println("server:", server, err)
	// Output:
	// LABSRV<00>       B <ACTIVE>
	// LABSRV<20>       B <ACTIVE>
	// LABGRP<1E>       <GROUP> B <ACTIVE>
	// MAC unknown
	// server: LABSRV<20> <nil>
}

func ExampleNoServerNameError() {
	r := nbns.NodeStatusResponse{Names: []nbns.NodeName{
		{Name: nbns.MustName("PRINTER", nbns.Workstation), Flags: nbns.FlagActive},
		{Name: nbns.MustName("OFFICE", nbns.Workstation), Flags: nbns.FlagGroup | nbns.FlagActive},
	}}
	_, err := r.ServerName()
	fmt.Println(err)
	// Output:
	// nbns: no unique active <20> name in node status reply; the host has PRINTER<00> (unique), OFFICE<00> (group)
}
