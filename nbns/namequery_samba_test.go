package nbns

// Golden name query packets captured from Samba 4.17's nmbd and nmblookup
// (testdata/samba-namequery-*.hex, made by testdata/capture-samba.sh; see
// testdata/README.md): each is decoded and checked field by field, and
// encoded back, which gives the very same bytes, since the codec is
// canonical for what nmblookup and nmbd send.

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// sambaGoldenCmp compares names and addresses by value.
var sambaGoldenCmp = cmp.Options{
	cmp.Comparer(func(a, b Name) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmpopts.EquateEmpty(),
}

// sambaFlow is one captured packet and what it must decode to: a request
// (nmblookup's) or a response (nmbd's).
type sambaFlow struct {
	req  *NameQueryRequest
	resp *NameQueryResponse
}

func TestNameQuerySambaGolden(t *testing.T) {
	var (
		labsrv  = MustName("LABSRV", FileServer)
		nosuch  = MustName("NOSUCH", FileServer)
		labgrp  = MustName("LABGRP", BrowserElection)
		hostA   = netip.MustParseAddr("198.18.0.2")
		zero    = netip.MustParseAddr("0.0.0.0")
		nmbdHdr = func(id uint16, rcode RCode) Header {
			// nmbd's flags: R, AA, RD and RA, whatever the query had
			// (0x8580, or 0x8583 with NAM_ERR); one answer record.
			return Header{ID: id, Response: true, Authoritative: true, RecursionDesired: true, RecursionAvailable: true, RCode: rcode, ANCount: 1}
		}
		query = func(id uint16, n Name, broadcast, rd bool) *NameQueryRequest {
			return &NameQueryRequest{ID: id, Name: n, Broadcast: broadcast, RecursionDesired: rd}
		}
	)
	// TTLs: 259200 s (0x3f480) is nmbd's max ttl, what a host gives for
	// its own names; the WINS server gives what is left of the
	// registration's, 259199 s (0x3f47f) a second after it.
	tests := []struct {
		file  string
		flows []sambaFlow
	}{{
		// nmblookup -U 198.18.0.2 LABSRV#20: RD clear (0x0000), and nmbd,
		// a B node, answers for its own name with its address, flags 0.
		file: "samba-namequery-unicast.hex",
		flows: []sambaFlow{
			{req: query(0x05a5, labsrv, false, false)},
			{resp: &NameQueryResponse{Header: nmbdHdr(0x05a5, 0), Kind: PositiveResponse, Name: labsrv, TTL: 259200,
				Entries: []AddrEntry{{Flags: 0x0000, Addr: hostA}}}},
		},
	}, {
		// nmblookup -U 198.18.0.2 NOSUCH#20: RD clear, so nmbd says NAM_ERR
		// (0x8583) with a NULL record, TTL 0, RDLENGTH 0; it would say
		// nothing with RD set.
		file: "samba-namequery-unicast-negative.hex",
		flows: []sambaFlow{
			{req: query(0x1b6b, nosuch, false, false)},
			{resp: &NameQueryResponse{Header: nmbdHdr(0x1b6b, RCodeNameError), Kind: NegativeResponse, Name: nosuch}},
		},
	}, {
		// nmblookup -B 198.18.0.255 LABSRV#20: B and RD (0x0110); nmbd
		// (bound to 0.0.0.0:137 and 198.18.0.255:137) answers on both
		// sockets, two identical datagrams, with B clear.
		file: "samba-namequery-broadcast.hex",
		flows: []sambaFlow{
			{req: query(0x45f2, labsrv, true, true)},
			{resp: &NameQueryResponse{Header: nmbdHdr(0x45f2, 0), Kind: PositiveResponse, Name: labsrv, TTL: 259200,
				Entries: []AddrEntry{{Flags: 0x0000, Addr: hostA}}}},
			{resp: &NameQueryResponse{Header: nmbdHdr(0x45f2, 0), Kind: PositiveResponse, Name: labsrv, TTL: 259200,
				Entries: []AddrEntry{{Flags: 0x0000, Addr: hostA}}}},
		},
	}, {
		// nmblookup -U 198.18.0.5 --recursion LABSRV#20: the WINS server
		// answers from the registration of 198.18.0.2, now an H node
		// (a WINS client): NB_FLAGS 0x6000.
		file: "samba-namequery-wins.hex",
		flows: []sambaFlow{
			{req: query(0x3951, labsrv, false, true)},
			{resp: &NameQueryResponse{Header: nmbdHdr(0x3951, 0), Kind: PositiveResponse, Name: labsrv, TTL: 259199,
				Entries: []AddrEntry{{Flags: NewNBFlags(false, HNode), Addr: hostA}}}},
		},
	}, {
		// nmblookup -U 198.18.0.5 --recursion NOSUCH#20: NAM_ERR.
		file: "samba-namequery-wins-negative.hex",
		flows: []sambaFlow{
			{req: query(0x63dd, nosuch, false, true)},
			{resp: &NameQueryResponse{Header: nmbdHdr(0x63dd, RCodeNameError), Kind: NegativeResponse, Name: nosuch}},
		},
	}, {
		// nmblookup -U 198.18.0.5 --recursion LABGRP#1e: a normal group.
		// The WINS server answers with one entry, G and ONT H (0xE000),
		// address 0.0.0.0 (not the 255.255.255.255 of MS-NBTE note 11),
		// which nmblookup skips ("failed to find name").
		file: "samba-namequery-wins-group.hex",
		flows: []sambaFlow{
			{req: query(0x0d56, labgrp, false, true)},
			{resp: &NameQueryResponse{Header: nmbdHdr(0x0d56, 0), Kind: PositiveResponse, Name: labgrp, TTL: 259199,
				Entries: []AddrEntry{{Flags: NewNBFlags(true, HNode), Addr: zero}}}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			flows := ReadFlows(t, "testdata/"+tt.file)
			if len(flows) != len(tt.flows) {
				t.Fatalf("%d flows, want %d", len(flows), len(tt.flows))
			}
			for i, f := range tt.flows {
				pkt := flows[i]
				var got []byte
				var err error
				switch {
				case f.req != nil:
					if len(pkt) != 50 {
						t.Errorf("flow %d: a request of %d bytes, want 50 (RFC 1002 §4.2.12, no scope)", i+1, len(pkt))
					}
					var q NameQueryRequest
					if err := q.UnmarshalBinary(pkt); err != nil {
						t.Fatalf("flow %d: NameQueryRequest.UnmarshalBinary: %v", i+1, err)
					}
					if diff := cmp.Diff(f.req, &q, sambaGoldenCmp); diff != "" {
						t.Errorf("flow %d: request (-want +got):\n%s", i+1, diff)
					}
					got, err = q.MarshalBinary()
				default:
					var r NameQueryResponse
					if err := r.UnmarshalBinary(pkt); err != nil {
						t.Fatalf("flow %d: NameQueryResponse.UnmarshalBinary: %v", i+1, err)
					}
					if diff := cmp.Diff(f.resp, &r, sambaGoldenCmp); diff != "" {
						t.Errorf("flow %d: response (-want +got):\n%s", i+1, diff)
					}
					if r.Header.ID != uint16(flows[0][0])<<8|uint16(flows[0][1]) {
						t.Errorf("flow %d: ID %#04x does not answer the request's", i+1, r.Header.ID)
					}
					for _, e := range r.Entries {
						if want := e.Addr != zero; e.IsHost() != want {
							t.Errorf("flow %d: %v.IsHost() = %v, want %v", i+1, e, e.IsHost(), want)
						}
					}
					got, err = r.MarshalBinary()
				}
				if err != nil {
					t.Fatalf("flow %d: MarshalBinary: %v", i+1, err)
				}
				if !bytes.Equal(got, pkt) {
					t.Errorf("flow %d: encoded back\n% x\nwant the captured\n% x", i+1, got, pkt)
				}
			}
		})
	}
}

// TestNameQuerySambaGoldenAllocs decodes a captured answer into a reused
// value without allocating.
func TestNameQuerySambaGoldenAllocs(t *testing.T) {
	pkt := ReadFlows(t, "testdata/samba-namequery-wins.hex")[1]
	var r NameQueryResponse
	if err := r.UnmarshalBinary(pkt); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { r.UnmarshalBinary(pkt) }); n != 0 {
		t.Errorf("UnmarshalBinary allocates %v times a run, want 0", n)
	}
}
