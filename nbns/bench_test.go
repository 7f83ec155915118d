package nbns

import (
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// BenchmarkParseNodeStatusResponse decodes nmbd's 193-byte reply into a
// reused value. Compare its MB/s with BenchmarkParseDNSMessage, which walks
// a DNS response of about the same size with x/net/dns/dnsmessage.
func BenchmarkParseNodeStatusResponse(b *testing.B) {
	pkt := ReadFlows(b, "testdata/samba-nodestatus.hex")[1]
	var r NodeStatusResponse
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if err := r.UnmarshalBinary(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseDNSMessage parses every section of a DNS response of about
// the size of nmbd's node status reply: one question and ten A records
// whose names are compression pointers.
func BenchmarkParseDNSMessage(b *testing.B) {
	pkt := dnsResponse(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		var p dnsmessage.Parser
		if _, err := p.Start(pkt); err != nil {
			b.Fatal(err)
		}
		if _, err := p.Question(); err != nil {
			b.Fatal(err)
		}
		if err := p.SkipAllQuestions(); err != nil {
			b.Fatal(err)
		}
		for {
			h, err := p.AnswerHeader()
			if err == dnsmessage.ErrSectionDone {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if h.Type != dnsmessage.TypeA {
				b.Fatal("not A")
			}
			if _, err := p.AResource(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func dnsResponse(b *testing.B) []byte {
	name := dnsmessage.MustNewName("fileserver.example.")
	bld := dnsmessage.NewBuilder(make([]byte, 0, 512), dnsmessage.Header{ID: 1, Response: true, Authoritative: true})
	bld.EnableCompression()
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(bld.StartQuestions())
	must(bld.Question(dnsmessage.Question{Name: name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}))
	must(bld.StartAnswers())
	for i := range 10 {
		rh := dnsmessage.ResourceHeader{Name: name, Class: dnsmessage.ClassINET, TTL: 300}
		must(bld.AResource(rh, dnsmessage.AResource{A: [4]byte{198, 18, 0, byte(i)}}))
	}
	pkt, err := bld.Finish()
	must(err)
	return pkt
}

// BenchmarkAppendNodeStatusRequest builds the 50-byte wildcard request
// into a reused buffer.
func BenchmarkAppendNodeStatusRequest(b *testing.B) {
	buf := make([]byte, 0, 64)
	q := NodeStatusRequest{ID: 0x1234, Name: Wildcard()}
	b.ReportAllocs()
	b.SetBytes(50)
	for b.Loop() {
		var err error
		if buf, err = q.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendNodeStatusResponse builds a five-name reply.
func BenchmarkAppendNodeStatusResponse(b *testing.B) {
	var r NodeStatusResponse
	if err := r.UnmarshalBinary(ReadFlows(b, "testdata/samba-nodestatus.hex")[1]); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(193)
	for b.Loop() {
		var err error
		if buf, err = r.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
