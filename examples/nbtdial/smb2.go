package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// dialects are the SMB2 dialects allowed over NetBIOS (MS-SMB2 §2.1):
// 2.0.2, 2.1, 3.0 and 3.0.2.
var dialects = []uint16{0x0202, 0x0210, 0x0300, 0x0302}

// negotiateRequest returns an SMB2 NEGOTIATE request (MS-SMB2 §2.2.3) in a
// Direct-TCP (session message) frame.
func negotiateRequest() []byte {
	const headerLen, bodyLen = 64, 36
	b := make([]byte, 4+headerLen+bodyLen+2*len(dialects))
	binary.BigEndian.PutUint32(b, uint32(len(b)-4)) // type 0x00 and length
	h := b[4:]
	copy(h, "\xfeSMB")
	binary.LittleEndian.PutUint16(h[4:], headerLen) // StructureSize
	binary.LittleEndian.PutUint16(h[14:], 1)        // CreditRequest; Command 0 is NEGOTIATE
	body := h[headerLen:]
	binary.LittleEndian.PutUint16(body[0:], bodyLen)               // StructureSize
	binary.LittleEndian.PutUint16(body[2:], uint16(len(dialects))) // DialectCount
	binary.LittleEndian.PutUint16(body[4:], 1)                     // SecurityMode: signing enabled
	copy(body[12:28], "netbios-go demo!")                          // ClientGuid
	for i, d := range dialects {
		binary.LittleEndian.PutUint16(body[bodyLen+2*i:], d)
	}
	return b
}

// negotiate sends a NEGOTIATE on rw and returns the dialect the server
// chose, as "3.0.2".
func negotiate(rw io.ReadWriter) (string, error) {
	if _, err := rw.Write(negotiateRequest()); err != nil {
		return "", err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(rw, hdr[:]); err != nil {
		return "", err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]) & 0xFFFFFF)
	if hdr[0] != 0 || n < 64+8 || n > 1<<20 {
		return "", fmt.Errorf("unexpected frame % x", hdr)
	}
	resp := make([]byte, n)
	if _, err := io.ReadFull(rw, resp); err != nil {
		return "", err
	}
	if string(resp[:4]) != "\xfeSMB" {
		if string(resp[:4]) == "\xffSMB" {
			return "", errors.New("the server answered with SMB1: it does not speak SMB2")
		}
		return "", fmt.Errorf("not an SMB2 response: % x", resp[:4])
	}
	if status := binary.LittleEndian.Uint32(resp[8:]); status != 0 {
		return "", fmt.Errorf("NEGOTIATE failed with status 0x%08X", status)
	}
	if cmd := binary.LittleEndian.Uint16(resp[12:]); cmd != 0 {
		return "", fmt.Errorf("response to command %d, not NEGOTIATE", cmd)
	}
	d := binary.LittleEndian.Uint16(resp[64+4:])
	return fmt.Sprintf("%d.%d.%d", d>>8, d>>4&0xF, d&0xF), nil
}
