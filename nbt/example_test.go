package nbt_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

// A host that refuses *SMBSERVER: PreSP5 falls back to the name the host
// registered, as Windows NT 4.0 did.
func ExampleDialer() {
	host := nbttest.NewUnstartedServer(nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbt.SMBServer))
	host.Names = nbttest.Table("FILESRV", "OFFICE")
	host.Start()
	defer host.Close()

	d := nbt.Dialer{Policy: nbt.PreSP5, NameServicePort: host.NameAddr.Port()} // 137 in real life
	conn, err := d.Dial("tcp", host.Addr.String())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	c := conn.(*nbt.Conn)
	fmt.Println("connected as", c.CalledName())
	for _, a := range c.Attempts() {
		fmt.Println(a.Step, a.Name, a.Err)
	}
	// Output:
	// connected as FILESRV<20>
	// session *SMBSERVER<20> session request "*SMBSERVER<20>": called name not present (0x82)
	// node status *<00> <nil>
	// session FILESRV<20> <nil>
}

// SP5 against a host whose UDP 137 is filtered: the error says which step
// failed and why.
func ExampleDialError() {
	host := nbttest.NewUnstartedServer(nil)
	host.NameService = nbttest.DropQueries
	host.Start()
	defer host.Close()

	d := host.Dialer()
	d.Policy = nbt.SP5
	_, err := d.Dial("tcp", host.Addr.String())
	fmt.Println(errors.Is(err, nbns.ErrNoResponse))
	if de, ok := errors.AsType[*nbt.DialError](err); ok {
		fmt.Println(de.Attempts[0].Step, "failed")
	}
	// Output:
	// true
	// node status failed
}

// The default policy, Race, asks the name service and opens connections at
// once; the host here refuses *SMBSERVER, so the name it registered wins.
func ExampleDialer_race() {
	host := nbttest.NewUnstartedServer(nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbt.SMBServer))
	host.Names = nbttest.Table("FILESRV", "OFFICE")
	host.Start()
	defer host.Close()

	conn, err := host.Dialer().Dial("tcp", host.Addr.String())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	c := conn.(*nbt.Conn)
	fmt.Println(c.CalledName(), c.Transport())
	// Output:
	// FILESRV<20> NetBIOS
}

func ExampleWithClientTrace() {
	host := nbttest.NewServer(nil) // accepts any name, *SMBSERVER included
	defer host.Close()

	trace := &nbt.ClientTrace{
		SessionRequest: func(i nbt.SessionRequestInfo) {
			fmt.Println("request", i.Request.Called)
		},
		SessionResponse: func(i nbt.SessionResponseInfo) {
			fmt.Println("response", i.Response.String())
		},
	}
	ctx := nbt.WithClientTrace(context.Background(), trace)
	d := host.Dialer()
	d.Policy = nbt.PreSP5
	conn, err := d.DialContext(ctx, "tcp", host.Addr.String())
	if err != nil {
		log.Fatal(err)
	}
	conn.Close()
	// Output:
	// request *SMBSERVER<20>
	// response positive
}
