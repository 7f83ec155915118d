//go:build unix

package nbt_test

// Hardening tests of issue 7, at the level of the Dialer: forged name
// service replies and hostile name tables.

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/nbt"
	"github.com/netbios-go/netbios/nbt/nbttest"
	"github.com/netbios-go/netbios/session"
)

// TestForgedRepliesNeverUsed runs a host whose name service sends every
// kind of forged reply (each listing nbttest.ForgedName) before its real
// answer. The dial must take the server's name from the real answer and
// never ask for the forged one, whether the host accepts only its own name
// or any name at all (where a forged name would be accepted, and the
// mistake would otherwise go unseen). The "accepts any name" host refuses
// *SMBSERVER alone, so that Race, which asks for it when node status is
// late, has to win with the name node status gave it.
func TestForgedRepliesNeverUsed(t *testing.T) {
	anyName := nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer)
	tests := []struct {
		name     string
		handler  nbttest.Handler
		policies []nbt.Policy
	}{
		{"accepts only NBTTEST<20>", nbttest.AcceptOnly(nbttestName), allPolicies},
		{"accepts any name but *SMBSERVER", anyName, []nbt.Policy{nbt.Race, nbt.SP5}},
	}
	const dials = 10
	for _, tt := range tests {
		for _, p := range tt.policies {
			t.Run(tt.name+"/"+p.String(), func(t *testing.T) {
				checkNoLeaks(t)
				s := nbttest.NewUnstartedServer(tt.handler)
				s.Forgeries = nbttest.Forgeries
				s.Start()
				defer s.Close()
				d := s.Dialer()
				d.Policy = p
				d.Timeout = 5 * time.Second
				d.Cache = nbt.NewNameCache(0) // node status on every dial
				conns := &connCounter{}
				d.NetDialer = conns
				for i := range dials {
					c, err := d.DialContext(t.Context(), "tcp", s.Addr.String())
					if err != nil {
						t.Fatalf("dial %d: %v", i, err)
					}
					nc := c.(*nbt.Conn)
					called, table := nc.CalledName(), nc.NodeStatus()
					c.Close()
					if called != nbttestName {
						t.Errorf("dial %d: called name %v, want %v", i, called, nbttestName)
					}
					if table == nil {
						t.Fatalf("dial %d: no node status table on the conn", i)
					}
					if slices.ContainsFunc(table.Names, func(e nbns.NodeName) bool { return strings.HasPrefix(e.Name.String(), "FORGED") }) {
						t.Errorf("dial %d: the conn's name table is a forged one: %v", i, table.Names)
					}
				}
				conns.check(t)
				for _, r := range s.Requests() {
					if r.Called == nbttest.ForgedName {
						t.Fatalf("the dialer sent a session request for the forged name %v; requests %v", r.Called, s.Requests())
					}
				}
				if q := s.NodeStatusQueries(); q < dials {
					t.Errorf("%d node status queries for %d dials", q, dials)
				}
			})
		}
	}
}

// TestHostileNameTables answers node status with tables that name no
// server: no unique <20> name, only group names, no names at all, a <20>
// name that is not active. The host refuses *SMBSERVER, so no policy can
// find a name; each must fail well before its deadline with an error that
// lists what the host registered, must never ask for a name that is not a
// unique active <20> name, and must leave nothing behind.
func TestHostileNameTables(t *testing.T) {
	unique := func(s string, suffix nbns.Suffix) nbns.NodeName {
		return nbns.NodeName{Name: nbns.MustName(s, suffix), Flags: nbns.FlagActive}
	}
	group := func(s string, suffix nbns.Suffix) nbns.NodeName {
		return nbns.NodeName{Name: nbns.MustName(s, suffix), Flags: nbns.FlagGroup | nbns.FlagActive}
	}
	tests := []struct {
		name  string
		names []nbns.NodeName // not nil: nil would be nbttest's default table
		want  []string
	}{
		{
			name:  "no unique <20> name",
			names: []nbns.NodeName{unique("PRINTER", nbns.Workstation), unique("PRINTER", nbns.Messenger), group("OFFICE", nbns.Workstation)},
			want:  []string{"PRINTER<00> (unique)", "PRINTER<03> (unique)", "OFFICE<00> (group)"},
		},
		{
			name:  "only group names",
			names: []nbns.NodeName{group("OFFICE", nbns.Workstation), group("OFFICE", nbns.FileServer), group("OFFICE", nbns.BrowserElection)},
			want:  []string{"OFFICE<00> (group)", "OFFICE<20> (group)", "OFFICE<1E> (group)"},
		},
		{
			name:  "no names",
			names: []nbns.NodeName{},
			want:  []string{"lists no names"},
		},
		{
			name:  "<20> name not active",
			names: []nbns.NodeName{{Name: nbttestName}, unique("NBTTEST", nbns.Workstation)},
			want:  []string{"NBTTEST<20> (unique, inactive)", "NBTTEST<00> (unique)"},
		},
	}
	for _, tt := range tests {
		for _, p := range allPolicies {
			t.Run(tt.name+"/"+p.String(), func(t *testing.T) {
				checkNoLeaks(t)
				s := nbttest.NewUnstartedServer(nbttest.RefuseNames(session.ErrCalledNameNotPresent, nbttest.SMBServer))
				s.Names = tt.names
				s.Start()
				defer s.Close()
				d := s.Dialer()
				d.Policy = p
				d.Timeout = 5 * time.Second
				conns := &connCounter{}
				d.NetDialer = conns
				start := time.Now()
				c, err := d.DialContext(t.Context(), "tcp", s.Addr.String())
				elapsed := time.Since(start)
				if err == nil {
					c.Close()
					t.Fatalf("dial succeeded with %v", c.(*nbt.Conn).CalledName())
				}
				if elapsed > d.Timeout/2 || errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("the dial took %v and ended with %v; it should fail as soon as the table is read", elapsed, err)
				}
				conns.check(t)
				nse, ok := errors.AsType[*nbns.NoServerNameError](err)
				if !ok {
					t.Fatalf("error %v does not wrap a *nbns.NoServerNameError", err)
				}
				if !slices.Equal(nse.Names, tt.names) {
					t.Errorf("NoServerNameError.Names = %v, want %v", nse.Names, tt.names)
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				if p != nbt.SP5 && !errors.Is(err, session.ErrCalledNameNotPresent) {
					t.Errorf("error %v does not report the refusal of *SMBSERVER", err)
				}
				for _, r := range s.Requests() {
					if r.Called != nbttest.SMBServer {
						t.Errorf("session request for %v, which the table does not name as a server", r.Called)
					}
				}
				t.Logf("failed in %v: %v", elapsed.Round(time.Microsecond), err)
			})
		}
	}
}
