package nbttest_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

// A host that refuses *SMBSERVER, the case of KB Q251166: the client reads
// the host's name table, then calls the name its Server service registered.
func ExampleServer() {
	host := nbttest.NewUnstartedServer(nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer))
	host.Names = nbttest.Table("FILESRV", "OFFICE")
	host.Start()
	defer host.Close()

	ctx := context.Background()
	calling := nbns.MustName("CLIENT", nbns.Workstation)
	var d session.Dialer
	_, err := d.DialContext(ctx, host.Addr, session.Request{Called: nbttest.SMBServer, Calling: calling})
	if ne, ok := errors.AsType[*session.NegativeResponseError](err); ok {
		fmt.Println(ne)
	}

	table, err := new(nbns.Client).NodeStatus(ctx, host.NameAddr)
	if err != nil {
		log.Fatal(err)
	}
	name, err := table.ServerName()
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialContext(ctx, host.Addr, session.Request{Called: name, Calling: calling})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage([]byte("ping"))
	echo, err := c.ReadMessage(nil)
	fmt.Printf("%v: %s %v\n", c.Request().Called, echo, err)
	// Output:
	// session request "*SMBSERVER<20>": called name not present (0x82)
	// FILESRV<20>: ping <nil>
}
