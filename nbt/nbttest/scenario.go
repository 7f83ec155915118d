package nbttest

import "github.com/netbios-go/netbios/session"

// A Scenario is a kind of host that Microsoft KB Q251166 tells apart: how
// its session service treats *SMBSERVER and how its UDP 137 answers.
type Scenario struct {
	Name        string          // e.g. "refuses *SMBSERVER"
	Handler     Handler         // the session service
	NameService NameServiceMode // the name service
}

// Scenarios returns the hosts of KB Q251166, in this order: one that
// accepts *SMBSERVER (Windows NT, Samba); one that refuses it with 0x82
// (Windows 9x); one that accepts it but whose UDP 137 is dropped by a
// firewall; one whose UDP 137 is rejected with ICMP port unreachable; and
// one that refuses *SMBSERVER behind a firewall that drops UDP 137.
func Scenarios() []Scenario {
	refuse := RefuseNames(session.ErrCalledNameNotPresent, SMBServer)
	return []Scenario{
		{Name: "accepts *SMBSERVER", Handler: Echo},
		{Name: "refuses *SMBSERVER", Handler: refuse},
		{Name: "UDP 137 dropped", Handler: Echo, NameService: DropQueries},
		{Name: "UDP 137 rejected", Handler: Echo, NameService: RejectQueries},
		{Name: "refuses *SMBSERVER, UDP 137 dropped", Handler: refuse, NameService: DropQueries},
	}
}

// Start starts a Server that plays the scenario, with the default name
// table.
func (sc Scenario) Start() *Server {
	s := NewUnstartedServer(sc.Handler)
	s.NameService = sc.NameService
	s.Start()
	return s
}
