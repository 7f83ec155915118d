package nbttest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/netbios-go/netbios/nbns"
	"github.com/netbios-go/netbios/session"
)

// impacketProbe is the Python side of TestImpacket; see its doc string.
const impacketProbe = "testdata/impacket_probe.py"

// impacketPython returns a Python interpreter that can import impacket:
// Debian's /usr/bin/python3 (where apt's python3-impacket lives), else
// python3 on PATH. It skips the test when there is none, or fails it when
// NETBIOS_REQUIRE_IMPACKET=1.
func impacketPython(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil && p != candidates[0] {
		candidates = append(candidates, p)
	}
	var tried []string
	for _, py := range candidates {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		out, err := exec.CommandContext(ctx, py, "-c", "import impacket.nmb").CombinedOutput()
		cancel()
		if err == nil {
			return py
		}
		last := strings.TrimSpace(string(out))
		if i := strings.LastIndexByte(last, '\n'); i >= 0 {
			last = last[i+1:]
		}
		tried = append(tried, fmt.Sprintf("%s: %v: %s", py, err, last))
	}
	msg := "no Python that can import impacket (apt-get install python3-impacket); tried " + strings.Join(tried, "; ")
	if os.Getenv("NETBIOS_REQUIRE_IMPACKET") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// impacketOp is one operation of the probe script.
type impacketOp struct {
	ID       string  `json:"id"`
	Op       string  `json:"op"` // nodestatus, netbiosname or session
	NSPort   uint16  `json:"ns_port"`
	SessPort uint16  `json:"sess_port,omitempty"`
	Timeout  float64 `json:"timeout,omitempty"` // seconds

	// LookupTimeout, when set, replaces the 1 s timeout of the node
	// status query of getnetbiosname, which a session to *SMBSERVER
	// sends too; Impacket sends it 4 times.
	LookupTimeout float64 `json:"lookup_timeout,omitempty"`

	// nodestatus: the question name and its suffix.
	Name string `json:"name,omitempty"`
	Type int    `json:"type"`

	// session: the calling and called names as given to Impacket, the
	// idle time before the first message, and the sizes of the messages
	// to have echoed.
	MyName   string  `json:"myname,omitempty"`
	Remote   string  `json:"remote,omitempty"`
	Idle     float64 `json:"idle,omitempty"`
	Messages []int   `json:"messages,omitempty"`
}

// impacketResult is one line of the probe's output.
type impacketResult struct {
	ID        string  `json:"id"`
	Error     string  `json:"error"`
	ErrorCode *int    `json:"error_code"`
	MS        float64 `json:"ms"`

	// version line
	Impacket string `json:"impacket"`
	Python   string `json:"python"`

	// nodestatus
	ServportHonoured *bool               `json:"servport_honoured"`
	Names            []impacketName      `json:"names"`
	MAC              string              `json:"mac"`
	RRName           string              `json:"rr_name"` // hex, as Impacket's 'z' field read it
	RDLength         int                 `json:"rdlength"`
	Statistics       *impacketStatistics `json:"statistics"`

	// netbiosname
	NetBIOSName string `json:"netbios_name"`

	// session
	RemoteName string         `json:"remote_name"`
	MyName     string         `json:"my_name"`
	Echoes     []impacketEcho `json:"echoes"`
	Frames     []byte         `json:"frames"` // TYPE of every packet Impacket read
}

// impacketName is a NODE_NAME_ENTRY as Impacket decoded it.
type impacketName struct {
	Name  string `json:"name"` // hex of the 15 name bytes
	Type  byte   `json:"type"`
	Flags uint16 `json:"flags"`
	Group bool   `json:"group"` // NAME_FLAGS & NODE_GROUP
}

// impacketEcho is one session message sent and its echo read back.
type impacketEcho struct {
	Sent   int  `json:"sent"`
	Type   int  `json:"type"`
	Length int  `json:"length"`
	Got    int  `json:"got"`
	Equal  bool `json:"equal"`
}

// impacketStatistics is Impacket's STATISTICS structure, by its field
// names, which are RFC 1002 §4.2.18's.
type impacketStatistics struct {
	UnitID                string `json:"UNIT_ID"` // hex
	Jumpers               uint8  `json:"JUMPERS"`
	TestResult            uint8  `json:"TEST_RESULT"`
	VersionNumber         uint16 `json:"VERSION_NUMBER"`
	PeriodOfStatistics    uint16 `json:"PERIOD_OF_STATISTICS"`
	CRCs                  uint16 `json:"NUMBER_OF_CRCs"`
	AlignmentErrors       uint16 `json:"NUMBER_ALIGNMENT_ERRORS"`
	Collisions            uint16 `json:"NUMBER_OF_COLLISIONS"`
	SendAborts            uint16 `json:"NUMBER_SEND_ABORTS"`
	GoodSends             uint32 `json:"NUMBER_GOOD_SENDS"`
	GoodReceives          uint32 `json:"NUMBER_GOOD_RECEIVES"`
	Retransmits           uint16 `json:"NUMBER_RETRANSMITS"`
	NoResourceConditions  uint16 `json:"NUMBER_NO_RESOURCE_CONDITIONS"`
	FreeCommandBlocks     uint16 `json:"NUMBER_FREE_COMMAND_BLOCKS"`
	TotalCommandBlocks    uint16 `json:"TOTAL_NUMBER_COMMAND_BLOCKS"`
	MaxTotalCommandBlocks uint16 `json:"MAX_TOTAL_NUMBER_COMMAND_BLOCKS"`
	PendingSessions       uint16 `json:"NUMBER_PENDING_SESSIONS"`
	MaxPendingSessions    uint16 `json:"MAX_NUMBER_PENDING_SESSIONS"`
	MaxTotalSessions      uint16 `json:"MAX_TOTAL_SESSIONS_POSSIBLE"`
	SessionDataPacketSize uint16 `json:"SESSION_DATA_PACKET_SIZE"`
}

func toImpacketStatistics(s nbns.Statistics) impacketStatistics {
	return impacketStatistics{
		UnitID:                hex.EncodeToString(s.UnitID[:]),
		Jumpers:               s.Jumpers,
		TestResult:            s.TestResult,
		VersionNumber:         s.VersionNumber,
		PeriodOfStatistics:    s.PeriodOfStatistics,
		CRCs:                  s.CRCs,
		AlignmentErrors:       s.AlignmentErrors,
		Collisions:            s.Collisions,
		SendAborts:            s.SendAborts,
		GoodSends:             s.GoodSends,
		GoodReceives:          s.GoodReceives,
		Retransmits:           s.Retransmits,
		NoResourceConditions:  s.NoResourceConditions,
		FreeCommandBlocks:     s.FreeCommandBlocks,
		TotalCommandBlocks:    s.TotalCommandBlocks,
		MaxTotalCommandBlocks: s.MaxTotalCommandBlocks,
		PendingSessions:       s.PendingSessions,
		MaxPendingSessions:    s.MaxPendingSessions,
		MaxTotalSessions:      s.MaxTotalSessions,
		SessionDataPacketSize: s.SessionDataPacketSize,
	}
}

// nodeEntry is a name table entry with the group flag as a client reads it.
type nodeEntry struct {
	Name  nbns.Name
	Flags nbns.NameFlags
	Group bool
}

func wantEntries(names []nbns.NodeName) []nodeEntry {
	var out []nodeEntry
	for _, e := range names {
		out = append(out, nodeEntry{e.Name, e.Flags, e.Flags.Group()})
	}
	return out
}

func (r impacketResult) entries(t *testing.T) []nodeEntry {
	t.Helper()
	var out []nodeEntry
	for _, e := range r.Names {
		raw, err := hex.DecodeString(e.Name)
		if err != nil || len(raw) != nbns.NameLen-1 {
			t.Fatalf("Impacket name %q: %d bytes, %v", e.Name, len(raw), err)
		}
		var b [nbns.NameLen]byte
		copy(b[:], raw)
		b[nbns.NameLen-1] = e.Type
		out = append(out, nodeEntry{nbns.NameFromBytes(b), nbns.NameFlags(e.Flags), e.Group})
	}
	return out
}

// runImpacket runs the probe with the given operations and returns its
// results by id, and the version line.
func runImpacket(t *testing.T, py, host string, ops []impacketOp) (map[string]impacketResult, impacketResult) {
	t.Helper()
	in, err := json.Marshal(map[string]any{"host": host, "ops": ops})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-B", impacketProbe)
	cmd.Stdin = bytes.NewReader(in)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", impacketProbe, err, out, stderr.Bytes())
	}
	results := make(map[string]impacketResult)
	var version impacketResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("{")) {
			t.Logf("probe: %s", line)
			continue
		}
		var r impacketResult
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("probe line %s: %v", line, err)
		}
		if r.ID == "version" {
			version = r
			continue
		}
		results[r.ID] = r
	}
	for _, op := range ops {
		r, ok := results[op.ID]
		if !ok {
			t.Fatalf("no result for %s\nstdout:\n%s\nstderr:\n%s", op.ID, out, stderr.Bytes())
		}
		t.Logf("%s (%.1f ms): %s", op.ID, r.MS, briefResult(r))
	}
	return results, version
}

func briefResult(r impacketResult) string {
	if r.Error != "" {
		return "error " + r.Error
	}
	b, _ := json.Marshal(struct {
		Names      int            `json:"names,omitempty"`
		MAC        string         `json:"mac,omitempty"`
		NBName     string         `json:"netbios_name,omitempty"`
		RemoteName string         `json:"remote_name,omitempty"`
		Echoes     []impacketEcho `json:"echoes,omitempty"`
		Frames     string         `json:"frames,omitempty"`
	}{len(r.Names), r.MAC, r.NetBIOSName, r.RemoteName, r.Echoes, hex.EncodeToString(r.Frames)})
	return string(b)
}

// checkEchoes checks that every message Impacket sent came back whole, as a
// SESSION MESSAGE.
func checkEchoes(t *testing.T, r impacketResult, sizes ...int) {
	t.Helper()
	if r.Error != "" {
		t.Fatalf("%s: %s", r.ID, r.Error)
	}
	var want []impacketEcho
	for _, n := range sizes {
		want = append(want, impacketEcho{Sent: n, Type: int(session.TypeMessage), Length: n, Got: n, Equal: true})
	}
	if diff := cmp.Diff(want, r.Echoes); diff != "" {
		t.Errorf("%s: echoes (-want +got):\n%s", r.ID, diff)
	}
}

// checkFrames checks the types of the packets Impacket read in a session:
// want, then only keep-alives and session messages, as many messages as
// it sent and, when keepAlives, at least one keep-alive.
func checkFrames(t *testing.T, r impacketResult, want []session.PacketType, keepAlives bool) {
	t.Helper()
	var got []session.PacketType
	for _, b := range r.Frames {
		got = append(got, session.PacketType(b))
	}
	if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Fatalf("%s: Impacket read %v, want %v first", r.ID, got, want)
	}
	var messages, kept int
	for _, p := range got[len(want):] {
		switch p {
		case session.TypeMessage:
			messages++
		case session.TypeKeepAlive:
			kept++
		default:
			t.Errorf("%s: Impacket read a %v in the session", r.ID, p)
		}
	}
	if messages != len(r.Echoes) {
		t.Errorf("%s: Impacket read %d session messages for %d echoes: %v", r.ID, messages, len(r.Echoes), got)
	}
	if keepAlives && kept == 0 {
		t.Errorf("%s: Impacket read no keep-alive in the session: %v", r.ID, got)
	}
}

func checkRequests(t *testing.T, s *Server, want ...session.Request) {
	t.Helper()
	if diff := cmp.Diff(want, s.Requests(), nameCmp); diff != "" {
		t.Errorf("session requests the Server decoded (-want +got):\n%s", diff)
	}
}

// TestImpacket checks the Server's name service and session service
// against a real peer, the NetBIOS client of Impacket (impacket.nmb): that
// Impacket decodes our node status responses (names, suffixes, flags, MAC
// and the whole STATISTICS block) and session responses, and that we
// decode the node status and session requests Impacket encodes.
//
// Impacket comes from Debian's python3-impacket; the test skips without it
// unless NETBIOS_REQUIRE_IMPACKET=1.
func TestImpacket(t *testing.T) {
	py := impacketPython(t)

	mac := [6]byte{0x02, 0x00, 0x5E, 0x10, 0x20, 0x30} // locally administered
	stats := nbns.Statistics{
		UnitID: mac, Jumpers: 0x01, TestResult: 0x02, VersionNumber: 0x0304,
		PeriodOfStatistics: 0x0506, CRCs: 0x0708, AlignmentErrors: 0x090A,
		Collisions: 0x0B0C, SendAborts: 0x0D0E, GoodSends: 0x0F101112,
		GoodReceives: 0x13141516, Retransmits: 0x1718, NoResourceConditions: 0x191A,
		FreeCommandBlocks: 0x1B1C, TotalCommandBlocks: 0x1D1E,
		MaxTotalCommandBlocks: 0x1F20, PendingSessions: 0x2122,
		MaxPendingSessions: 0x2324, MaxTotalSessions: 0x2526,
		SessionDataPacketSize: 0x2728,
	}
	impsrv := nbns.MustName("IMPSRV", nbns.FileServer)
	calling := nbns.MustName("IMPCLI", nbns.Workstation)
	refuse := RefuseNames(session.ErrCalledNameNotPresent, SMBServer)
	newServer := func(h Handler, setup func(*Server)) *Server {
		s := NewUnstartedServer(h)
		s.Names = Table("IMPSRV", "IMPGRP")
		if setup != nil {
			setup(s)
		}
		s.Start()
		t.Cleanup(s.Close)
		return s
	}

	// The host of KB Q251166 with a working name service: it refuses
	// *SMBSERVER, so a client must learn its <20> name by node status.
	host := newServer(refuse, func(s *Server) { s.Statistics = stats })
	// The same host with UDP 137 filtered: the client cannot learn the
	// name and falls back to *SMBSERVER, which is refused.
	filtered := newServer(refuse, func(s *Server) { s.NameService = DropQueries })
	// A host that sends keep-alives before its positive response and, in
	// the session, whenever it is idle for 20 ms. Its echo closes the
	// session.Conn itself: the Server closes only the TCP conn under it,
	// which leaves the keep-alive timer running after Close.
	echoAndClose := func(c *session.Conn) {
		defer c.Close()
		io.Copy(c, c)
	}
	keepAlive := newServer(HandlerFunc(func(session.Request) Response {
		return Response{KeepAlives: 2, Serve: echoAndClose}
	}), func(s *Server) {
		s.NameService = DropQueries
		s.Config = &session.Config{KeepAlive: 20 * time.Millisecond}
	})
	// A plain echo host for a message longer than RFC 1002 allows.
	big := newServer(nil, nil)
	// One host per forged reply, to see what Impacket makes of each.
	forged := make([]*Server, len(Forgeries))
	for i, f := range Forgeries {
		forged[i] = newServer(nil, func(s *Server) { s.Forgeries = []Forgery{f} })
	}

	if !host.NameAddr.Addr().Is4() {
		t.Skipf("the Server listens on %v; Impacket's name service client is IPv4 only", host.NameAddr)
	}
	sess := func(id string, s *Server, remote string, messages ...int) impacketOp {
		return impacketOp{ID: id, Op: "session", NSPort: s.NameAddr.Port(), SessPort: s.Addr.Port(),
			Timeout: 5, MyName: "impcli", Remote: remote, Messages: messages}
	}
	ops := []impacketOp{
		{ID: "host/nodestatus *", Op: "nodestatus", NSPort: host.NameAddr.Port(), Name: "*", Timeout: 1},
		{ID: "host/nodestatus IMPSRV<20>", Op: "nodestatus", NSPort: host.NameAddr.Port(), Name: "impsrv", Type: 0x20, Timeout: 1},
		{ID: "host/nodestatus NOPE<20>", Op: "nodestatus", NSPort: host.NameAddr.Port(), Name: "NOPE", Type: 0x20, Timeout: 0.1},
		{ID: "host/getnetbiosname", Op: "netbiosname", NSPort: host.NameAddr.Port()},
		sess("host/session impsrv", host, "impsrv", 5, 0xFFFF, 0x10000, session.MaxLength),
		sess("host/session *SMBSERVER", host, "*SMBSERVER", 5),
		func() impacketOp { // the lookup is dropped: don't wait 4 s for it
			op := sess("filtered/session *SMBSERVER", filtered, "*SMBSERVER", 5)
			op.LookupTimeout = 0.25
			return op
		}(),
		sess("filtered/session IMPSRV", filtered, "IMPSRV", 5),
		func() impacketOp {
			op := sess("keepalive/session *SMBSERVER", keepAlive, "*SMBSERVER", 5, 100)
			op.Idle = 0.2
			op.LookupTimeout = 0.25
			return op
		}(),
		sess("big/session over 128K", big, "IMPSRV", session.MaxLength+1),
	}
	for i, f := range Forgeries {
		ops = append(ops, impacketOp{ID: fmt.Sprintf("forged/%d nodestatus *", f), Op: "nodestatus",
			NSPort: forged[i].NameAddr.Port(), Name: "*", Timeout: 0.2})
	}
	res, version := runImpacket(t, py, host.Addr.Addr().String(), ops)
	t.Logf("Impacket %s on Python %s (%s)", version.Impacket, version.Python, py)

	t.Run("node status", func(t *testing.T) {
		wantRRName := func(n nbns.Name) string {
			b, err := n.AppendEncoded(nil, "")
			if err != nil {
				t.Fatal(err)
			}
			return hex.EncodeToString(b[:len(b)-1]) // Impacket's 'z' field drops the root label
		}
		for _, c := range []struct {
			id       string
			question nbns.Name
		}{
			{"host/nodestatus *", nbns.Wildcard()},
			{"host/nodestatus IMPSRV<20>", impsrv},
		} {
			r := res[c.id]
			if r.Error != "" {
				t.Errorf("%s: %s", c.id, r.Error)
				continue
			}
			if diff := cmp.Diff(wantEntries(host.Names), r.entries(t), nameCmp); diff != "" {
				t.Errorf("%s: names (-want +got):\n%s", c.id, diff)
			}
			if want := strings.ToUpper(fmt.Sprintf("%02x-%02x-%02x-%02x-%02x-%02x",
				mac[0], mac[1], mac[2], mac[3], mac[4], mac[5])); r.MAC != want {
				t.Errorf("%s: MAC %q, want %q", c.id, r.MAC, want)
			}
			if r.Statistics == nil {
				t.Errorf("%s: no statistics", c.id)
			} else if diff := cmp.Diff(toImpacketStatistics(stats), *r.Statistics); diff != "" {
				t.Errorf("%s: STATISTICS (-want +got):\n%s", c.id, diff)
			}
			if want := 1 + nbns.NodeNameLen*len(host.Names) + nbns.StatisticsLen; r.RDLength != want {
				t.Errorf("%s: RDLENGTH %d, want %d", c.id, r.RDLength, want)
			}
			if want := wantRRName(c.question); r.RRName != want {
				t.Errorf("%s: RR_NAME %s, want the question %s", c.id, r.RRName, want)
			}
		}
		// RFC 1002 §5.1.1.5: no answer for a name the host does not have.
		if r := res["host/nodestatus NOPE<20>"]; !strings.HasPrefix(r.Error, "NetBIOSTimeout") {
			t.Errorf("node status for a name not in the table: %+v, want NetBIOSTimeout", r)
		}
		if r := res["host/getnetbiosname"]; r.Error != "" || r.NetBIOSName != "IMPSRV" {
			t.Errorf("getnetbiosname = %q, %s; want IMPSRV", r.NetBIOSName, r.Error)
		}
		if r := res["host/nodestatus *"]; r.ServportHonoured != nil && !*r.ServportHonoured {
			t.Logf("Impacket %s ignores NetBIOS(servport=...); the probe sets nmb.NETBIOS_NS_PORT instead", version.Impacket)
		}
	})

	t.Run("session", func(t *testing.T) {
		r := res["host/session impsrv"]
		checkEchoes(t, r, 5, 0xFFFF, 0x10000, session.MaxLength)
		checkFrames(t, r, []session.PacketType{session.TypePositiveResponse}, false)
		if r.RemoteName != "IMPSRV" || r.MyName != "IMPCLI" {
			t.Errorf("Impacket's names: called %q, calling %q; want IMPSRV, IMPCLI", r.RemoteName, r.MyName)
		}
		// *SMBSERVER with a name service: Impacket asks node status for
		// the <20> name first, and calls that.
		r = res["host/session *SMBSERVER"]
		checkEchoes(t, r, 5)
		if r.RemoteName != "IMPSRV" {
			t.Errorf("Impacket called %q for *SMBSERVER, want IMPSRV from node status", r.RemoteName)
		}
		checkRequests(t, host,
			session.Request{Called: impsrv, Calling: calling},
			session.Request{Called: impsrv, Calling: calling})
		if n := host.NodeStatusQueries(); n < 5 {
			t.Errorf("host received %d node status queries, want at least 5", n)
		}
	})

	t.Run("refused *SMBSERVER", func(t *testing.T) {
		r := res["filtered/session *SMBSERVER"]
		if !strings.Contains(r.Error, "Cannot request session") || !strings.Contains(r.Error, "*SMBSERVER") {
			t.Errorf("session to *SMBSERVER on a host that refuses it: %+v, want NetBIOSError naming *SMBSERVER", r)
		}
		if r.ErrorCode != nil {
			t.Logf("Impacket now reports the negative response code %#x", *r.ErrorCode)
		}
		checkEchoes(t, res["filtered/session IMPSRV"], 5)
		checkRequests(t, filtered,
			session.Request{Called: SMBServer, Calling: calling},
			session.Request{Called: impsrv, Calling: calling})
		if n := filtered.NodeStatusQueries(); n < 1 {
			t.Errorf("Impacket sent no node status query before falling back to *SMBSERVER")
		}
	})

	t.Run("keep-alives", func(t *testing.T) {
		// Two keep-alives before the positive response, which Impacket
		// skips (by recursion in recv_packet), then the session's own
		// after 20 ms of idleness.
		r := res["keepalive/session *SMBSERVER"]
		checkEchoes(t, r, 5, 100)
		checkFrames(t, r, []session.PacketType{session.TypeKeepAlive, session.TypeKeepAlive, session.TypePositiveResponse}, true)
		checkRequests(t, keepAlive, session.Request{Called: SMBServer, Calling: calling})
	})

	// Impacket frames session messages as Direct-TCP (MS-SMB2 §2.1), with
	// a 24-bit length in FLAGS and LENGTH; RFC 1002 §4.3.1 allows 17 bits.
	// The Server's conn reads such a message (Config.Strict is off) but
	// will not write it back, so the echo ends the session. Either way the
	// bytes must never come back changed.
	t.Run("message over 128K", func(t *testing.T) {
		r := res["big/session over 128K"]
		for _, e := range r.Echoes {
			if e.Got != 0 && !e.Equal {
				t.Errorf("echo of %d bytes came back as %d different bytes", e.Sent, e.Got)
			}
		}
		checkRequests(t, big, session.Request{Called: impsrv, Calling: calling})
	})

	// Forged replies (PROTOCOL (c)B1, B4): Impacket matches the
	// transaction ID only, never the source, and closes its socket after
	// the first datagram. What it makes of each is reported, not judged.
	t.Run("forgeries", func(t *testing.T) {
		for i, f := range Forgeries {
			r := res[ops[len(ops)-len(Forgeries)+i].ID]
			got := "names " + fmt.Sprint(len(r.Names))
			if r.Error != "" {
				got = r.Error
			} else if len(r.Names) > 0 && r.entries(t)[0].Name == ForgedName {
				got = "took the forged names"
			}
			t.Logf("forgery %d: %s", f, got)
		}
	})
}
