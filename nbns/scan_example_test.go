package nbns_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"slices"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt/nbttest"
)

// ExampleScanner_Scan scans 198.18.0.0/29 on an in-memory network where
// two hosts run the NetBIOS name service, 198.18.0.2 and 198.18.0.3, and
// prints a line per host as nbtscan does; with ReportSilent, the addresses
// that did not answer are listed too. The answers come in any order, so
// the example sorts its lines.
func ExampleScanner_Scan() {
	n := nbttest.NewNetwork(time.Millisecond)
	for _, name := range []string{"LABSRV", "PRINTER"} {
		s := nbttest.NewUnstartedServer(nil)
		s.Network = n
		s.Names = nbttest.Table(name, "LABGRP")
		s.Start()
		defer s.Close()
	}
	targets := func(yield func(netip.Addr) bool) {
		p := netip.MustParsePrefix("198.18.0.0/29")
		for a := p.Addr(); p.Contains(a); a = a.Next() {
			if !yield(a) {
				return
			}
		}
	}
	sc := &nbns.Scanner{Listener: n.Listener(), Timeout: 100 * time.Millisecond, ReportSilent: true}
	var lines []string
	for r, err := range sc.Scan(context.Background(), targets) {
		if err != nil {
			log.Fatal(err)
		}
		if !r.Answered() {
			lines = append(lines, fmt.Sprintf("%-12s silent", r.Target.Addr()))
			continue
		}
		computer, _ := r.Computer()
		workgroup, _ := r.Workgroup()
		server := ""
		if _, ok := r.Server(); ok {
			server = "<server>"
		}
		lines = append(lines, fmt.Sprintf("%-12s %-12s %-8s %s, %d names", r.Target.Addr(), computer, server, workgroup, len(r.Response.Names)))
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// 198.18.0.0   silent
	// 198.18.0.1   silent
	// 198.18.0.2   LABSRV<00>   <server> LABGRP<00>, 5 names
	// 198.18.0.3   PRINTER<00>  <server> LABGRP<00>, 5 names
	// 198.18.0.4   silent
	// 198.18.0.5   silent
	// 198.18.0.6   silent
	// 198.18.0.7   silent
}
