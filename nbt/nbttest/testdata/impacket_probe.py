"""Drive Impacket's NetBIOS client (impacket.nmb) against nbttest.Server.

impacket_test.go runs this script. It reads a JSON object from stdin,

    {"host": "127.0.0.1", "ops": [OP, ...]}

runs each OP in order (an OP's "lookup_timeout", if set, replaces the 1 s
timeout of the node status query that getnetbiosname sends), and prints one JSON object per line on stdout: first
{"id": "version", ...}, then one result per OP with the OP's "id". Every
failure of an OP is caught and reported in its result as "error", so that
later OPs still run. Progress goes to stderr.

OPs:
  {"id", "op": "nodestatus", "ns_port", "name", "type", "timeout"}
      NetBIOS().getnodestatus(name, host, type, timeout=timeout): the name
      table, the MAC and the whole STATISTICS block Impacket decoded.
  {"id", "op": "netbiosname", "ns_port"}
      NetBIOS().getnetbiosname(host): the first <20> name of the table.
  {"id", "op": "session", "ns_port", "sess_port", "myname", "remote",
   "timeout", "idle", "messages"}
      NetBIOSTCPSession(myname, remote, host, sess_port=sess_port): the
      called name Impacket settled on, then for each size in messages,
      send_packet of that many bytes and recv_packet of the echo (after
      sleeping idle seconds before the first one); "frames" lists the TYPE
      of every packet Impacket read, keep-alives included.

Impacket hardcodes the ports 137 and 139, so each OP points the module's
constants at the fake's ephemeral ports:
  - NetBIOS.__init__ ignores its servport argument and uses
    nmb.NETBIOS_NS_PORT (impacket 0.10.0);
  - NetBIOSSession sends a session request only when its sess_port equals
    nmb.NETBIOS_SESSION_PORT, and its *SMBSERVER lookup builds a NetBIOS()
    of its own, so it too follows nmb.NETBIOS_NS_PORT.
"""

import json
import sys
import time

from impacket import nmb


def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def log(*args):
    print("impacket_probe:", *args, file=sys.stderr, flush=True)


def impacket_version():
    try:
        from importlib.metadata import version

        return version("impacket")
    except Exception:  # noqa: BLE001 - any failure just means "unknown"
        return "?"


def error_fields(exc):
    out = {"error": "%s: %s" % (type(exc).__name__, exc)}
    code = getattr(exc, "error_code", None)
    if code is not None:
        out["error_code"] = code
    return out


GETNODESTATUS_DEFAULTS = nmb.NetBIOS.getnodestatus.__defaults__


def setup(op):
    nmb.NETBIOS_NS_PORT = op["ns_port"]
    nmb.NETBIOS_SESSION_PORT = op.get("sess_port") or 139
    # getnetbiosname, also called by NetBIOSSession for *SMBSERVER, takes
    # getnodestatus's default timeout of 1 s and sends 4 times; a shorter
    # one makes a silent name service cost 4 * lookup_timeout, not 4 s.
    d = list(GETNODESTATUS_DEFAULTS)
    if op.get("lookup_timeout"):
        d[-1] = op["lookup_timeout"]
    nmb.NetBIOS.getnodestatus.__defaults__ = tuple(d)


def hexbytes(v):
    # Impacket's Structure returns 'z' fields as latin-1 text, others as bytes.
    if isinstance(v, str):
        v = v.encode("latin-1")
    return v.hex()


def payload(n):
    return bytes(i % 251 for i in range(n))


class CapturingNodeStatusResponse(nmb.NBNodeStatusResponse):
    """Keeps the last node status answer Impacket decoded: getnodestatus
    returns only its names, but the whole record shows how Impacket read
    RR_NAME and the STATISTICS block."""

    last = None

    def __init__(self, data=0):
        super().__init__(data)
        CapturingNodeStatusResponse.last = self


def op_nodestatus(host, op, res):
    CapturingNodeStatusResponse.last = None
    nb = nmb.NetBIOS(servport=op["ns_port"])
    # Whether the constructor kept its argument (it does not in 0.10.0).
    res["servport_honoured"] = getattr(nb, "_NetBIOS__servport", None) == op["ns_port"]
    entries = nb.getnodestatus(op["name"], host, type=op["type"], timeout=op["timeout"])
    names = []
    for e in entries:
        flags = e["NAME_FLAGS"]
        names.append(
            {
                "name": hexbytes(e["NAME"]),
                "type": e["TYPE"],
                "flags": flags,
                "group": bool(flags & nmb.NODE_GROUP),
            }
        )
    res["names"] = names
    res["mac"] = nb.getmacaddress()
    answer = CapturingNodeStatusResponse.last
    if answer is not None:
        res["rr_name"] = hexbytes(answer["RR_NAME"])
        res["rdlength"] = answer["RDLENGTH"]
        st = answer.statistics
        res["statistics"] = {
            field: (hexbytes(st[field]) if isinstance(st[field], (bytes, str)) else st[field])
            for field, _ in st.structure
        }


def op_netbiosname(host, op, res):
    res["netbios_name"] = nmb.NetBIOS().getnetbiosname(host)


# The TYPE of every session service packet Impacket read in the current
# session op, keep-alives included, in order.
FRAMES = []


def op_session(host, op, res):
    timeout = op["timeout"]
    del FRAMES[:]
    res["frames"] = FRAMES
    s = nmb.NetBIOSTCPSession(
        op["myname"],
        op["remote"],
        host,
        remote_type=nmb.TYPE_SERVER,
        sess_port=op["sess_port"],
        timeout=timeout,
    )
    try:
        res["remote_name"] = s.get_remote_name()
        res["my_name"] = s.get_myname()
        if op.get("idle"):
            time.sleep(op["idle"])
        echoes = []
        res["echoes"] = echoes
        for n in op.get("messages") or []:
            echo = {"sent": n}
            echoes.append(echo)
            data = payload(n)
            s.send_packet(data)
            p = s.recv_packet(timeout)
            got = p.get_trailer()
            echo["type"] = p.get_type()
            echo["length"] = p.get_length()
            echo["got"] = len(got)
            echo["equal"] = got == data
    finally:
        s.close()


OPS = {"nodestatus": op_nodestatus, "netbiosname": op_netbiosname, "session": op_session}


def main():
    cfg = json.load(sys.stdin)
    host = cfg["host"]
    # Every read of NetBIOSTCPSession, the handshake's and recv_packet's
    # (which drops keep-alives), goes through its private __read.
    read = nmb.NetBIOSTCPSession._NetBIOSTCPSession__read

    def recording_read(self, timeout=None):
        data = read(self, timeout)
        FRAMES.append(data[0])
        return data

    nmb.NetBIOSTCPSession._NetBIOSTCPSession__read = recording_read
    # node_status_request looks the class up in the module when it runs.
    nmb.NBNodeStatusResponse = CapturingNodeStatusResponse

    emit({"id": "version", "impacket": impacket_version(), "python": sys.version.split()[0]})
    for op in cfg["ops"]:
        res = {"id": op["id"]}
        log("start", op["id"])
        start = time.monotonic()
        try:
            setup(op)
            OPS[op["op"]](host, op, res)
        except Exception as exc:  # noqa: BLE001 - report every failure
            res.update(error_fields(exc))
        res["ms"] = round((time.monotonic() - start) * 1000, 1)
        log("done", op["id"], res.get("error", "ok"))
        emit(res)


if __name__ == "__main__":
    main()
