package nbttest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

// A host of KB Q251166 that refuses *SMBSERVER, on an in-memory Network:
// the PreSP5 policy opens two connections and sends one node status
// query. In a synctest bubble, with a delay, time.Since would measure the
// five round trips exactly.
func ExampleNetwork() {
	n := nbttest.NewNetwork(0)
	host := nbttest.NewUnstartedServer(nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer))
	host.Names = nbttest.Table("FILESRV", "OFFICE")
	host.Network = n
	host.Start()
	defer host.Close()

	d := host.Dialer()
	d.Policy = nbt.PreSP5
	c, err := d.DialContext(context.Background(), "tcp4", host.Addr.String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.RemoteAddr(), c.(*nbt.Conn).CalledName())
	fmt.Println(n.Connects(host.Addr), "connects,", host.Connections(), "connections,", host.NodeStatusQueries(), "query")
	// Output:
	// 198.18.0.2:139 FILESRV<20>
	// 2 connects, 2 connections, 1 query
}
