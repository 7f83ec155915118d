package nbns_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"slices"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt/nbttest"
)

func ExampleNameQueryResponse_UnmarshalBinary() {
	// A WINS server's answer for a group name of two hosts, built here
	// with the encoder; 255.255.255.255 means "broadcast for it".
	reply := nbns.NameQueryResponse{
		Header: nbns.Header{ID: 7, Authoritative: true, RecursionDesired: true, RecursionAvailable: true},
		Name:   nbns.MustName("LABGRP", nbns.DomainControllers),
		TTL:    300000,
		Entries: []nbns.AddrEntry{
			{Flags: nbns.NewNBFlags(true, nbns.HNode), Addr: netip.MustParseAddr("198.18.0.2")},
			{Flags: nbns.NewNBFlags(true, nbns.BNode), Addr: netip.MustParseAddr("255.255.255.255")},
		},
	}
	pkt, err := reply.MarshalBinary()
	if err != nil {
		log.Fatal(err)
	}

	var r nbns.NameQueryResponse
	if err := r.UnmarshalBinary(pkt); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%v answer for %v, TTL %d s\n", r.Kind, r.Name, r.TTL)
	for _, e := range r.Entries {
		fmt.Printf("%-16v %-10v host: %v\n", e.Addr, e.Flags, e.IsHost())
	}
	// Output:
	// positive answer for LABGRP<1C>, TTL 300000 s
	// 198.18.0.2       <GROUP> H  host: true
	// 255.255.255.255  <GROUP> B  host: false
}

func ExampleNegativeError() {
	// A server at 198.18.0.2 on an in-memory network that does not have
	// the name, and says so (nmbd's NAM_ERR).
	n := nbttest.NewNetwork(0)
	s := nbttest.NewUnstartedServer(nil)
	s.Network = n
	s.Names = nbttest.Table("LABSRV", "LABGRP")
	s.Start()
	defer s.Close()

	c := &nbns.Client{Dialer: n.Dialer()}
	_, err := c.QueryName(context.Background(), s.NameAddr, nbns.MustName("PRINTER", nbns.FileServer), false)
	fmt.Println(err)
	fmt.Println("not found:", errors.Is(err, nbns.RCodeNameError))
	if ne, ok := errors.AsType[*nbns.NegativeError](err); ok {
		fmt.Printf("RCODE %d\n", ne.RCode)
	}
	// Output:
	// namequery udp4 198.18.0.2:137: nbns: negative name query response for PRINTER<20>: name error (rcode 3)
	// not found: true
	// RCODE 3
}

func ExampleClient_QueryNameBroadcast() {
	// Three hosts on an in-memory network, all in workgroup LABGRP; one
	// of them is LABSRV.
	n := nbttest.NewNetwork(time.Millisecond)
	for _, host := range []string{"LABSRV", "HOST3", "HOST4"} {
		s := nbttest.NewUnstartedServer(nil)
		s.Network = n
		s.Names = nbttest.Table(host, "LABGRP")
		s.AnswerBroadcastTwice = true // as nmbd does
		s.Start()
		defer s.Close()
	}
	c := &nbns.Client{Listener: n.Listener(), Timeout: 500 * time.Millisecond, Attempts: 1}
	bcast := netip.AddrPortFrom(n.BroadcastAddr(), nbns.Port)
	ctx := context.Background()

	// A unique name: stop at its owner's answer.
	for a, err := range c.QueryNameBroadcast(ctx, nbns.MustName("LABSRV", nbns.FileServer), bcast) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("LABSRV<20> is at", a.Entries[0].Addr, "answered by", a.From)
		if a.Unique() {
			break
		}
	}

	// A group name: every member answers (twice each), until the wait ends.
	var members []netip.Addr
	for a, err := range c.QueryNameBroadcast(ctx, nbns.MustName("LABGRP", nbns.BrowserElection), bcast) {
		if err != nil {
			log.Fatal(err)
		}
		for _, e := range a.Entries {
			members = append(members, e.Addr)
		}
	}
	slices.SortFunc(members, netip.Addr.Compare)
	fmt.Println("LABGRP<1E>:", members)
	// Output:
	// LABSRV<20> is at 198.18.0.2 answered by 198.18.0.2:137
	// LABGRP<1E>: [198.18.0.2 198.18.0.3 198.18.0.4]
}
